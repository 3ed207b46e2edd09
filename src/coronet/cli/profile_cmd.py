"""`coronet profile`: MACs (torchprofile, version named) and parameters of a generator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from coronet.errors import ConfigError
from coronet.eval import COUNTER, count_macs, count_params
from coronet.models import check_size, get_generator, list_generators, load_generator
from coronet.models.norms import NORMS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile", help="MACs and parameters of a dense or exported generator",
        description="Count MACs with torchprofile (batch 1, eval mode, as GAN Compression, OMGD and CAT "
                    "count them) and parameters, of a dense generator or of an exported compact one.")
    p.add_argument("generator", nargs="?", type=Path,
                   help="an exported compact generator (.safetensors or .json); omit to profile "
                        "a dense --netG")
    p.add_argument("--netG", default="resnet_9blocks", choices=list_generators(), help="the dense generator")
    p.add_argument("--ngf", type=int, default=64, help="its base width")
    p.add_argument("--norm", default=None, choices=NORMS,
                   help="default: instance for ResNets, batch for U-Nets (the references')")
    p.add_argument("--size", type=int, default=256, help="square input size in pixels")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.ngf < 1:
        raise ConfigError(f"--ngf must be at least 1 (got {args.ngf})")
    if args.generator is not None:
        generator = load_generator(args.generator)
    else:
        kwargs = {"ngf": args.ngf}
        if args.norm is not None:
            kwargs["norm"] = args.norm
        generator = get_generator(args.netG, **kwargs)
    check_size(generator.spec.name, args.size, "--size")
    size = (args.size, args.size)
    macs, params = count_macs(generator, size), count_params(generator)
    dense = generator.layout.dense_widths()
    report = {
        "generator": generator.spec.name,
        "kwargs": generator.spec.kwargs,
        "compact": generator.widths != dense,
        "input": [1, 3, *size],
        "macs": macs,
        "params": params,
        "counter": COUNTER,
        "widths": generator.widths,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        kind = "compact" if report["compact"] else "dense"
        print(f"{generator.spec.name} ({kind}) {generator.spec.kwargs}, input 1x3x{args.size}x{args.size}")
        print(f"  MACs   {macs:>18,}  ({macs / 1e9:.4g} G, {COUNTER})")
        print(f"  params {params:>18,}  ({params / 1e6:.4g} M)")
    return 0
