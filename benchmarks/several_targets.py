"""Several targets from one search against a separate run per target: wall-clock and quality.

    python benchmarks/several_targets.py                     # 0.25 0.1 0.05, ResNet-9 ngf 16, 64²
    python benchmarks/several_targets.py --seed 1

Pix2Pix on ../shared/data/edges2shoes-mini through the command line (`coronet compress`, so the
forks are fine-tuned as a user's are): one run with `--target-macs 0.25 0.1 0.05`, then one run per
target with the same seed and phase lengths, one after the other in this process. Writes
benchmarks/results/several_targets.json (`_seedN` for other seeds) and its table, several-targets.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import environment, paired_difference, seed_files, seed_source, table, write_result
from common import load as load_result
from coronet.cli.main import main as coronet

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "edges2shoes-mini"


def flags(args) -> list[str]:
    return ["--dataroot", str(args.data), "--model", "pix2pix", "--netG", "resnet_9blocks",
            "--ngf", str(args.ngf), "--load-size", str(args.size), "--crop-size", str(args.size),
            "--batch-size", "4",
            "--search-steps", str(args.search_steps), "--finetune-steps", str(args.finetune_steps),
            "--seed", str(args.seed), "--set", "data.preprocess=resize", "--set", "data.flip=false",
            "--set", "train.gan_mode=hinge", "--set", "train.sample_every=0",
            "--set", "train.checkpoint_every=0"]


def timed_run(args, out: Path, targets: list[float]) -> tuple[float, Path]:
    start = time.perf_counter()
    if coronet(["compress", *flags(args), "--out", str(out), "--target-macs", *map(str, targets)]) != 0:
        raise SystemExit("a run failed")
    wall = time.perf_counter() - start
    return wall, max(out.iterdir())


def model_row(folder: Path) -> dict:
    report = json.loads((folder / "report.json").read_text())
    g = report["generators"]["G_A"]
    return {"ratio": report["target"]["ratio"], "achieved_ratio": g["achieved_ratio"],
            "psnr": g["test_metrics"]["psnr"], "ssim": g["test_metrics"]["ssim"],
            "search_steps": report["timing"]["iterations"]["search"]}


def measure(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        wall, run = timed_run(args, Path(tmp) / "one", args.targets)
        shared = {f"{t:g}": model_row(run if t == min(args.targets) else run / "targets" / f"macs{t:g}")
                  for t in args.targets}
        separate, separate_wall = {}, 0.0
        for t in args.targets:
            seconds, folder = timed_run(args, Path(tmp) / f"macs{t:g}", [t])
            separate[f"{t:g}"], separate_wall = model_row(folder), separate_wall + seconds
    return {"one_search_s": wall, "separate_s": separate_wall, "one_search": shared, "separate": separate}


def _mean_and_error(differences: list[float]) -> str:
    if len(differences) < 2:
        return f"{differences[0]:+.2f}"
    d = paired_difference(differences)
    return f"{d['mean']:+.2f} ± {d['stderr']:.2f}"


def render(stem: str = "several_targets") -> list[str]:
    runs = [load_result(name) for name in seed_files(stem)]
    first = runs[0]
    rows = []
    for t in first["setup"]["targets"]:
        key = f"{t:g}"
        diffs = [r["one_search"][key]["psnr"] - r["separate"][key]["psnr"] for r in runs]
        rows.append([key, " / ".join(f"{r['one_search'][key]['psnr']:.2f}" for r in runs),
                     " / ".join(f"{r['separate'][key]['psnr']:.2f}" for r in runs),
                     _mean_and_error(diffs)])
    ratio = [r["one_search_s"] / r["separate_s"] for r in runs]
    s = first["setup"]
    seeds = ", ".join(str(r["setup"]["seed"]) for r in runs)
    return table(["MACs target", "PSNR dB, one search (per seed)", "PSNR dB, separate runs",
                  "difference, mean ± s.e."], rows) + [
        "", "Wall-clock of the one search against the separate runs: "
        + " / ".join(f"{x:.2f}×" for x in ratio) + f" (seeds {seeds}). "
        f"Pix2Pix on edges2shoes-mini, ResNet-9 ngf {s['ngf']}, {s['size']}², search ≤ {s['search_steps']} + "
        f"{s['finetune_steps']} fine-tuning steps per model, {first['environment']['device']}, "
        f"{first['environment']['threads']} threads. Source: {seed_source(stem)}."]


TABLES = {"several-targets": render}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", type=float, nargs="+", default=[0.25, 0.1, 0.05])
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--search-steps", type=int, default=300)
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    results = Path(__file__).parent / "results"
    out = args.out or results / f"several_targets{f'_seed{args.seed}' if args.seed else ''}.json"
    setup = {k: getattr(args, k)
             for k in ("targets", "ngf", "size", "search_steps", "finetune_steps", "seed")}
    write_result(out, {"environment": environment(), "setup": setup, **measure(args)}, TABLES)


if __name__ == "__main__":
    main()
