"""`coronet translate`: run an exported generator on a folder of images."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from coronet.data import TransformConfig, list_images, load_rgb, to_uint8
from coronet.data import transforms as T
from coronet.errors import CheckpointError, ConfigError, DataError
from coronet.files import atomic_write
from coronet.models import check_size, load_generator, read_generator_meta, size_rule
from coronet.runs import RunDir, exported_generators


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="run an exported generator on a folder of images",
                       description="Translate every image under INPUT_DIR with an exported generator "
                                   "(a .safetensors/.json file, or a run folder) and write a PNG for "
                                   "each to OUTPUT_DIR, at the same relative path. Inputs are never "
                                   "overwritten.")
    p.add_argument("checkpoint", type=Path, metavar="RUN_DIR",
                   help="a run folder, or one exported generator (.json)")
    p.add_argument("input_dir", type=Path, metavar="INPUT_DIR", help="images to translate (subfolders too)")
    p.add_argument("output_dir", type=Path, metavar="OUTPUT_DIR",
                   help="where the PNGs go; files already there are never replaced")
    p.add_argument("--generator", default="G_A", choices=("G_A", "G_B"),
                   help="in a run folder: G_A (A to B) or, for CycleGAN, G_B (B to A)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=int, help="resize inputs to SIZE x SIZE (default: the training size)")
    size.add_argument("--keep-size", action="store_true",
                      help="translate each image at its own size, each side rounded to one the network "
                           "takes (the reference's preprocess 'none')")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="skip unreadable images with a warning instead of stopping")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")


def output_paths(files: list[Path], input_dir: Path, output_dir: Path) -> dict[Path, Path]:
    """Each input's PNG under `output_dir` at its path relative to `input_dir`; inputs whose names
    differ only by extension (a.jpg, a.png) keep it in the name, so no two share an output."""
    stems: dict[Path, int] = {}
    for f in files:
        key = f.relative_to(input_dir).with_suffix("")
        stems[key] = stems.get(key, 0) + 1
    out = {}
    for f in files:
        rel = f.relative_to(input_dir)
        if stems[rel.with_suffix("")] > 1:
            rel = rel.with_name(f"{rel.stem}_{rel.suffix.lstrip('.').lower()}")
        out[f] = output_dir / rel.with_suffix(".png")
    inputs = {os.path.realpath(f) for f in files}
    clash = next((o for o in out.values() if os.path.realpath(o) in inputs), None)
    if clash is not None:
        raise ConfigError(f"writing {clash} would overwrite an input image; give an OUTPUT_DIR "
                          f"outside {input_dir}")
    return out


def run(args: argparse.Namespace) -> int:
    path = args.checkpoint
    if path.is_dir():
        files = exported_generators(RunDir.finished(path, "translate"))
        if args.generator not in files:
            raise CheckpointError(f"{path} has no exported {args.generator} (it has "
                                  f"{', '.join(files)}); pick one with --generator")
        path = files[args.generator]
    meta = read_generator_meta(path)
    generator = load_generator(path).to(args.device).eval()
    size = args.size if args.size is not None else meta.get("input_size") or 256
    check_size(meta["name"], size, "--size")
    if args.input_dir.resolve() == args.output_dir.resolve():
        raise ConfigError(f"OUTPUT_DIR is INPUT_DIR ({args.input_dir}); the outputs would replace the "
                          "inputs. Give another folder")
    files = list_images(args.input_dir, "input image", "INPUT_DIR")
    targets = output_paths(files, args.input_dir, args.output_dir)
    present = [t for t in targets.values() if t.exists() or t.is_symlink()]
    if present:
        more = f" (and {len(present) - 1} more)" if len(present) > 1 else ""
        raise ConfigError(f"{present[0]}{more} already exists; translate writes only files that are not "
                          f"there yet: give an empty or new OUTPUT_DIR, or move those files")
    rule = size_rule(meta["name"])
    written, skipped, rounded = 0, [], 0
    with torch.no_grad():
        for file in tqdm(files, desc="translate", unit="image", mininterval=2.0):
            try:
                image = load_rgb(file)
            except DataError as exc:
                if not args.skip_bad_images:
                    raise DataError(f"{exc}, or pass --skip-bad-images") from None
                tqdm.write(f"coronet translate: skipping: {exc}", file=sys.stderr)
                skipped.append(file)
                continue
            w, h = image.size
            if args.keep_size:
                w, h = rule.rounded(w), rule.rounded(h)
                rounded += (w, h) != image.size
            else:
                w = h = size
            x = T.apply(image.resize((w, h), Image.BICUBIC) if (w, h) != image.size else image,
                        TransformConfig(max(w, h), max(w, h), "none", False),
                        T.Draw(0, 0, False)).unsqueeze(0).to(args.device)
            picture = Image.fromarray(to_uint8(generator(x)[0]))
            atomic_write(targets[file], lambda tmp, picture=picture: picture.save(tmp, format="PNG"))
            written += 1
    note = f" (skipped {len(skipped)} unreadable)" if skipped else ""
    if args.keep_size:
        print(f"wrote {written} images at their own sizes to {args.output_dir}{note}; {rounded} resized "
              f"to the nearest sides {meta['name']} takes (multiples of {rule.multiple}, at least "
              f"{rule.minimum})")
    else:
        print(f"wrote {written} images of {size}x{size} to {args.output_dir}{note}")
    return 0
