"""Run-to-run spread of the baseline table: one seed says little when the margins are tenths of
a dB. Reads baselines_<dataset>.json (seed 0) and baselines_<dataset>_seed<N>.json written by

    python benchmarks/baselines.py edges2shoes --seed 1
    python benchmarks/baselines.py edges2shoes --seed 2
    python benchmarks/baselines_seeds.py edges2shoes

and writes baselines_<dataset>_seeds.json: per row the mean, sample standard deviation, min and max
of every quality metric, per target and seed whether coronet beat both baselines on each, and the
per-seed difference coronet minus each baseline (mean and standard error over the seeds).
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import statistics
from pathlib import Path

from common import write_result

RESULTS = Path(__file__).parent / "results"
BETTER = {"psnr": operator.gt, "ssim": operator.gt, "l1": operator.lt,
          "fd_rand_AtoB": operator.lt, "fd_rand_BtoA": operator.lt}
BASELINES = ("uniform", "magnitude")


def paired_difference(differences: list[float]) -> dict:
    """Mean and standard error of per-seed differences (coronet minus a baseline)."""
    return {"mean": statistics.mean(differences),
            "stderr": statistics.stdev(differences) / len(differences) ** 0.5,
            "per_seed": differences}


def seed_results(dataset: str) -> dict[int, dict]:
    found = {}
    for path in sorted(RESULTS.glob(f"baselines_{dataset}*.json")):
        if (m := re.fullmatch(rf"baselines_{dataset}(?:_seed(\d+))?\.json", path.name)):
            found[int(m.group(1) or 0)] = json.loads(path.read_text())
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset")
    args = p.parse_args()
    runs = seed_results(args.dataset)
    if len(runs) < 2:
        raise SystemExit(f"need results of at least two seeds in {RESULTS} (found {sorted(runs)})")
    metrics = {seed: {r["row"]: r["metrics"] for r in run["rows"]} for seed, run in runs.items()}
    seeds = sorted(runs)
    keys = [k for k in BETTER if k in next(iter(metrics[0].values()))]
    rows = {}
    for row in metrics[0]:
        rows[row] = {}
        for k in keys:
            values = [metrics[s][row][k] for s in seeds]
            rows[row][k] = {"mean": statistics.mean(values), "std": statistics.stdev(values),
                            "min": min(values), "max": max(values), "per_seed": values}
    wins, paired = {}, {}
    for row in metrics[0]:
        if not row.startswith("coronet@"):
            continue
        target = row.split("@")[1]
        wins[target] = {}
        for k in keys:
            wins[target][k] = [all(BETTER[k](metrics[s][row][k], metrics[s][f"{b}@{target}"][k])
                                   for b in BASELINES) for s in seeds]
        # a seed fixes data order and initialisation for every row, so coronet - baseline per seed
        # removes the part of the spread the rows share
        for b in BASELINES:
            paired[f"{target} vs {b}"] = {
                k: paired_difference([metrics[s][row][k] - metrics[s][f"{b}@{target}"][k]
                                      for s in seeds]) for k in keys}
    out = RESULTS / f"baselines_{args.dataset}_seeds.json"
    write_result(out, {"benchmark": f"baselines_{args.dataset}_seeds", "seeds": seeds,
                       "rows": rows, "coronet_beats_both_baselines": wins,
                       "coronet_minus_baseline": paired})
    for row, values in rows.items():
        print(f"{row:16s} " + "  ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in values.items()))
    for target, per_metric in wins.items():
        print(f"coronet@{target} beats both baselines: "
              + ", ".join(f"{k} {sum(v)}/{len(v)} seeds" for k, v in per_metric.items()))
    for pair, per_metric in paired.items():
        print(f"coronet@{pair}: " + "  ".join(f"d{k} {v['mean']:+.4f} ± {v['stderr']:.4f} (s.e.)"
                                               for k, v in per_metric.items()))


if __name__ == "__main__":
    main()
