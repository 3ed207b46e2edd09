"""`coronet eval`: FID/KID (and PSNR/SSIM/L1 where ground truth exists) of a run's exported
generators on the test split, printed with MACs and params and added to the run's report.json."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from coronet.cli.arguments import reclaim_positional
from coronet.errors import CheckpointError, ConfigError
from coronet.eval import COUNTER, count_macs, count_params, fid
from coronet.eval.evaluate import default_cache_dir, evaluate_generator
from coronet.eval.protocol import evaluation_split
from coronet.models import check_size, load_generator, read_generator_meta
from coronet.runs import RunDir, exported_generators

CHECKPOINT_NOTE = ("last: the generator exported at the end of training (coronet keeps no "
                   "best-FID checkpoint; OMGD and CAT report their best_net_G)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="FID/KID and paired metrics of a run on its test split",
                       description="Translate the test split with a run's exported generator(s) and "
                                   "report FID and KID (pytorch-fid Inception weights, as GAN Compression, "
                                   "OMGD and CAT compute them) and, for Pix2Pix, PSNR/SSIM/L1. Results "
                                   "are added to the run's report.json.")
    p.add_argument("checkpoint", type=Path, nargs="?", metavar="RUN_DIR",
                   help="a run folder, or one exported generator (.json)")
    p.add_argument("--dataroot", help="dataset folder (default: the run's)")
    p.add_argument("--model", choices=("pix2pix", "cyclegan"), help="for a bare generator file")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="default: the run's")
    p.add_argument("--generator", nargs="+", metavar="G", help="G_A and/or G_B (default: all of the run's)")
    p.add_argument("--size", type=int, help="evaluation size (default: the training size)")
    p.add_argument("--fid-weights", type=Path, help="pt_inception-2015-12-05-6726825d.pth")
    p.add_argument("--no-fid", action="store_true", help="paired metrics only (no Inception weights)")
    p.add_argument("--real-stats", type=Path,
                   help="precomputed real statistics (.npz with mu, sigma; e.g. GAN Compression's "
                        "real_stat files) for one generator; KID is then skipped")
    p.add_argument("--stats-cache", type=Path, help=f"default: {default_cache_dir()}")
    p.add_argument("--batch-size", type=int, default=8, help="images per generator call")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _targets(args: argparse.Namespace) -> tuple[dict[str, Path], dict[str, Any], RunDir | None]:
    """(generator files by name, run settings, the run folder or None)."""
    path = args.checkpoint
    if path.is_dir():
        run_dir = RunDir.finished(path, "eval")
        cfg = run_dir.read_config()
        files = exported_generators(run_dir)
        run = {"dataroot": cfg.data.dataroot, "model": cfg.train.model, "direction": cfg.data.direction,
               "size": cfg.data.crop_size}
        return files, run, run_dir
    meta_path = path.with_suffix(".json")
    meta = read_generator_meta(meta_path)
    run = {"dataroot": None, "model": meta.get("model"), "direction": "AtoB",
           "size": meta.get("input_size")}
    name = "G_B" if meta.get("direction") == "BtoA" else "G_A"
    return {name: meta_path}, run, None


def run(args: argparse.Namespace) -> int:
    if args.generator is not None:
        args.generator, args.checkpoint = reclaim_positional(args.generator, args.checkpoint, ("G_A", "G_B"),
                                                             "--generator", "RUN_DIR")
    elif args.checkpoint is None:
        raise ConfigError("give RUN_DIR (a run folder or an exported generator .json)")
    files, run_settings, run_dir = _targets(args)
    with run_dir.writing("eval") if run_dir is not None else contextlib.nullcontext():
        return _evaluate(args, files, run_settings, run_dir)


def _evaluate(args: argparse.Namespace, files: dict[str, Path], run_settings: dict[str, Any],
              run_dir: RunDir | None) -> int:
    dataroot = args.dataroot or run_settings["dataroot"]
    model = args.model or run_settings["model"]
    if dataroot is None:
        raise ConfigError("a bare generator file needs --dataroot (the dataset to evaluate on)")
    if model is None:
        raise ConfigError("this generator file does not say its model; pass --model pix2pix|cyclegan")
    direction = args.direction or run_settings["direction"]
    size = args.size if args.size is not None else run_settings["size"] or 256
    names = args.generator or list(files)
    missing = [n for n in names if n not in files]
    if missing:
        raise ConfigError(f"{args.checkpoint} has no exported {', '.join(missing)} "
                          f"(it has {', '.join(files)})")
    if args.real_stats is not None and len(names) != 1:
        raise ConfigError("--real-stats holds one target domain; pick one generator with --generator")
    if args.batch_size < 1:
        raise ConfigError("--batch-size must be positive")
    for name in names:
        check_size(read_generator_meta(files[name])["name"], size, "--size")
    inception, digest = None, None
    if not args.no_fid:
        try:
            inception = fid.load_inception(args.fid_weights).to(args.device)
        except CheckpointError as exc:
            raise CheckpointError(f"{exc} Or run `coronet eval ... --no-fid` for the paired metrics "
                                  "only.") from None
        digest = fid.SHA256_PREFIX
    real_stats = fid.load_statistics(args.real_stats) if args.real_stats is not None else None

    results: dict[str, Any] = {}
    for name in names:
        generator = load_generator(files[name])
        split = evaluation_split(dataroot, model, name, direction, size, args.batch_size)
        settings = {"protocol": "coronet-eval-1", "size": size, "weights": digest}
        metrics = evaluate_generator(generator, split, inception, real_stats,
                                     args.stats_cache or default_cache_dir(), settings, args.device)
        metrics.update({
            "macs": count_macs(generator, (size, size)), "params": count_params(generator),
            "size": size, "real_statistics": (str(args.real_stats) if real_stats is not None
                                              else split.real_description),
            "fid_weights": f"{fid.WEIGHTS_NAME} (sha256 {digest}...)" if digest else None,
        })
        results[name] = metrics
    evaluation = {"dataroot": dataroot, "direction": direction, "checkpoint": CHECKPOINT_NOTE,
                  "counter": COUNTER, "generators": results}
    if run_dir is not None:
        run_dir.update_report({"evaluation": evaluation})
    if args.json:
        print(json.dumps(evaluation, indent=2))
    else:
        _print(evaluation)
    return 0


def _print(evaluation: dict[str, Any]) -> None:
    print(f"checkpoint: {evaluation['checkpoint']}")
    print(f"MACs counted by {evaluation['counter']}")
    for name, m in evaluation["generators"].items():
        parts = [f"{name}: {m['macs'] / 1e9:.3f} GMACs @ {m['size']}x{m['size']}",
                 f"{m['params'] / 1e6:.3f} M params", f"{m['images']} test images"]
        for key, fmt in (("fid", "FID {:.2f}"), ("kid", "KID {:.4f}"), ("psnr", "PSNR {:.2f} dB"),
                         ("ssim", "SSIM {:.4f}"), ("l1", "L1 {:.4f}")):
            if key in m:
                parts.append(fmt.format(m[key]))
        print(", ".join(parts))
        if "fid" in m:
            print(f"  real statistics: {m['real_statistics']}")
