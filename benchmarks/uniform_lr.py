"""coronet against the uniform baseline at several generator learning rates, seed by seed.

At DHP's step a generated kernel moves about 6x as far per Adam step as a plain convolution's weights
(kernel_step.py), so a short schedule may favour coronet for its step alone. variant.py
--uniform-lr-scale X retrains the uniform rows with the generators' lr times X; this pairs a coronet
variant's rows with each of them (all retrained through variant.py, so no committed row from older
code enters a pair):

    python benchmarks/variant.py edges2shoes --uniform-lr-scale 2.5 --seed N --threads 1 \
        --against benchmarks/results/baselines_edges2shoes[_seedN].json      # and 1, 5
    python benchmarks/uniform_lr.py edges2shoes --coronet default --scales 1 2.5 5 --seeds 0 1 2 3

Writes benchmarks/results/uniform_lr_<dataset>_<coronet>.json: per target and scale the paired
difference coronet minus uniform (mean and standard error over the seeds, and in how many seeds it
is negative), and uniform at each scale minus uniform at the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from common import environment, write_result

RESULTS = Path(__file__).parent / "results"
METRICS = ("psnr", "ssim", "l1")


def rows(dataset: str, variant: str, seed: int) -> dict[str, dict]:
    path = RESULTS / f"variant_{dataset}_{variant}{f'_seed{seed}' if seed else ''}.json"
    if not path.is_file():
        raise SystemExit(f"{path} not found: run benchmarks/variant.py for seed {seed} first (see --help)")
    return {r["row"]: r["metrics"] for r in json.loads(path.read_text())["rows"]}


def paired(a: list[dict], b: list[dict]) -> dict:
    out = {}
    for m in METRICS:
        d = [x[m] - y[m] for x, y in zip(a, b, strict=True)]
        out[m] = {"mean": statistics.mean(d), "se": statistics.stdev(d) / len(d) ** 0.5,
                  "negative_in": sum(v < 0 for v in d), "per_seed": d}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset")
    p.add_argument("--coronet", default="default", help="the coronet variant whose rows are paired")
    p.add_argument("--scales", nargs="+", default=["1", "2.5", "5"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--targets", nargs="+", default=["0.25", "0.1"])
    args = p.parse_args()
    coronet = {s: rows(args.dataset, args.coronet, s) for s in args.seeds}
    uniform = {x: {s: rows(args.dataset, f"uniform-lr{x}", s) for s in args.seeds} for x in args.scales}
    result = {}
    for t in args.targets:
        c = [coronet[s][f"coronet@{t}"] for s in args.seeds]
        for x in args.scales:
            u = [uniform[x][s][f"uniform@{t}"] for s in args.seeds]
            result[f"coronet@{t} - uniform lr x{x}"] = diff = paired(c, u)
            print(f"{t} coronet - uniform x{x}: " + "  ".join(
                f"{m} {v['mean']:+.4f} ± {v['se']:.4f} ({v['negative_in']}/{len(args.seeds)} < 0)"
                for m, v in diff.items()))
            if x != args.scales[0]:
                base = [uniform[args.scales[0]][s][f"uniform@{t}"] for s in args.seeds]
                result[f"uniform@{t} lr x{x} - x{args.scales[0]}"] = paired(u, base)
    out = RESULTS / f"uniform_lr_{args.dataset}_{args.coronet}.json"
    write_result(out, {"benchmark": "uniform_lr", "config": vars(args), "environment": environment(),
                       "pairs": result})


if __name__ == "__main__":
    main()
