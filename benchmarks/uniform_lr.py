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
is negative), and uniform at each scale minus uniform at the first. --markdown prints the table
benchmarks/RESULTS.md shows (tests/test_readme_results.py checks it there). --baseline magnitude
pairs the magnitude rows of variant.py --magnitude-lr-scale instead (magnitude_lr_<...>.json),
--baseline dense the dense row of --dense-lr-scale at every target. --coronet may name a baseline
control too (dense-lr5, uniform-lr5): its own row is then the left side, e.g. the dense row retrained
at x5 minus uniform at x5 asks whether this length tells 10x the MACs apart:

    python benchmarks/uniform_lr.py edges2shoes --coronet dense-lr5 --baseline uniform --scales 5
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from baselines_seeds import BETTER, DIGITS, HEADINGS, paired_difference, row_name, signed, variant_results
from common import environment, write_result

RESULTS = Path(__file__).parent / "results"
METRICS = ("psnr", "ssim", "l1")
CONTROL = re.compile(r"(uniform|magnitude|dense)-lr")  # variant.py's names of its baseline controls
PAIR = re.compile(r"(\w+)@([\d.]+) - (\w+) lr x(.+)")  # "<left>@<target> - <baseline> lr x<scale>"


def method_of(variant: str) -> str:
    """Whose row a variant.py result trained: a baseline control's or coronet's."""
    return m.group(1) if (m := CONTROL.match(variant)) else "coronet"


def rows(dataset: str, variant: str, seeds: list[int]) -> dict[int, dict[str, dict]]:
    """Per seed, the metrics of each row of variant.py's result (its own rows over the reference's)."""
    found = variant_results(dataset, variant)
    if missing := [s for s in seeds if s not in found]:
        raise SystemExit(f"no variant_{dataset}_{variant} result for seeds {missing} in {RESULTS}: "
                         "run benchmarks/variant.py first (see --help)")
    return {s: {r["row"]: r["metrics"] for r in found[s]["rows"]} for s in seeds}


def paired(a: list[dict], b: list[dict]) -> dict:
    return {m: paired_difference([x[m] - y[m] for x, y in zip(a, b, strict=True)]) for m in METRICS}


def markdown_table(result: dict) -> list[str]:
    """The left row (coronet's, or a baseline control's) minus the baseline per scale and target as
    RESULTS.md lines: mean ± s.e., and where every seed agrees, in how many the left row is ahead or
    behind."""
    pairs = {m.groups(): v for k, v in result["pairs"].items() if (m := PAIR.fullmatch(k))}
    baseline = result.get("config", {}).get("baseline", "uniform")
    left = method_of(result.get("config", {}).get("coronet", "default"))
    first = f"{baseline}'s lr" if left == "coronet" else f"{left} minus {baseline} at lr"
    lines = [f"| {first} | target | " + " | ".join(HEADINGS[m] for m in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]

    def cell(metric: str, d: dict) -> str:
        text = f"{signed(d['mean'], DIGITS[metric])} ± {d['stderr']:.{DIGITS[metric]}f}"
        n, better = len(d["per_seed"]), BETTER[metric]
        if all(better(x, 0) for x in d["per_seed"]):
            text += f" ({n}/{n} ahead)"
        elif all(better(0, x) for x in d["per_seed"]):
            text += f" ({n}/{n} behind)"
        return text

    for (_, target, _, scale), per_metric in pairs.items():
        cells = [f"×{scale}", f"{float(target):.0%}"] + [cell(m, per_metric[m]) for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset")
    p.add_argument("--coronet", default="default", help="the coronet variant whose rows are paired")
    p.add_argument("--scales", nargs="+", default=["1", "2.5", "5"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--targets", nargs="+", default=["0.25", "0.1"])
    p.add_argument("--baseline", choices=("uniform", "magnitude", "dense"), default="uniform")
    p.add_argument("--markdown", action="store_true", help="also print the table RESULTS.md shows")
    p.add_argument("--out", help="the result file (default: results/<baseline>_lr_<dataset>_<coronet>.json), "
                                 "so a subset of seeds or targets does not replace the full pairing")
    args = p.parse_args()
    coronet, b = rows(args.dataset, args.coronet, args.seeds), args.baseline
    left = method_of(args.coronet)
    if left == b:
        raise SystemExit(f"--coronet {args.coronet} and --baseline {b} are the same baseline: "
                         "pair it with another")
    baseline = {x: rows(args.dataset, f"{b}-lr{x}", args.seeds) for x in args.scales}
    result = {}
    for t in args.targets:
        c = [coronet[s][row_name(left, t)] for s in args.seeds]
        for x in args.scales:
            u = [baseline[x][s][row_name(b, t)] for s in args.seeds]
            result[f"{left}@{t} - {b} lr x{x}"] = diff = paired(c, u)
            print(f"{t} {left} - {b} x{x}: " + "  ".join(
                f"{m} {v['mean']:+.4f} ± {v['stderr']:.4f} "
                f"({sum(d < 0 for d in v['per_seed'])}/{len(args.seeds)} < 0)" for m, v in diff.items()))
            if x != args.scales[0]:
                first = [baseline[args.scales[0]][s][row_name(b, t)] for s in args.seeds]
                result[f"{b}@{t} lr x{x} - x{args.scales[0]}"] = paired(u, first)
    out = Path(args.out) if args.out else RESULTS / f"{b}_lr_{args.dataset}_{args.coronet}.json"
    write_result(out, {"benchmark": f"{b}_lr", "config": vars(args), "environment": environment(),
                       "pairs": result})
    if args.markdown:
        print("\n".join(markdown_table({"config": vars(args), "pairs": result})))


if __name__ == "__main__":
    main()
