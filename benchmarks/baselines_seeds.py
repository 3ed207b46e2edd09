"""Run-to-run spread of the baseline table: one seed says little when the margins are tenths of
a dB. Reads baselines_<dataset>.json (seed 0) and baselines_<dataset>_seed<N>.json written by

    python benchmarks/baselines.py edges2shoes --seed 1
    python benchmarks/baselines.py edges2shoes --seed 2
    python benchmarks/baselines_seeds.py edges2shoes

and writes baselines_<dataset>_seeds.json: per row the mean, sample standard deviation, min and max
of every quality metric, per target and seed whether coronet beat both baselines on each, and the
per-seed difference coronet minus each baseline and minus dense (mean and standard error over the seeds).

The same per-seed difference of dense minus uniform is the benchmark's resolution: the dense model
has 1/target times the MACs, so where it does not separate from the uniform baseline either, a
metric at this training length cannot rank the compressed models. Under "search", per coronet row:
the search diagnostics of every seed and how well the seeds agree on the widths (rank correlation).
`dataset` is the file prefix, so runs written with `--out baselines_edges2shoes_long_seed<N>.json`
aggregate as `edges2shoes_long`.
`--seeds 0 1 2 3 4` restricts the aggregate to those seeds, e.g. to reproduce a table written before
more seeds were run (the output file is the same; its "seeds" say which went in).
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import statistics
from pathlib import Path

from scipy import stats

from common import write_result

RESULTS = Path(__file__).parent / "results"
BETTER = {"psnr": operator.gt, "ssim": operator.gt, "l1": operator.lt,
          "fd_rand_AtoB": operator.lt, "fd_rand_BtoA": operator.lt}
BASELINES = ("uniform", "magnitude")


def paired_difference(differences: list[float]) -> dict:
    """Mean and standard error of per-seed differences (coronet minus a baseline), and the two-sided
    p-values of a zero mean: Student's paired t and, because a few seeds say little about whether the
    differences are normal, Wilcoxon's signed-rank test, which uses only their signs and ranks."""
    spread = statistics.stdev(differences)
    if spread == 0:  # all equal (e.g. a variant against itself): the tests are undefined
        p_t = p_wilcoxon = 1.0 if differences[0] == 0 else None
    else:
        p_t = float(stats.ttest_1samp(differences, 0.0).pvalue)
        p_wilcoxon = float(stats.wilcoxon(differences).pvalue)
    return {"mean": statistics.mean(differences), "stderr": spread / len(differences) ** 0.5,
            "p_t": p_t, "p_wilcoxon": p_wilcoxon, "per_seed": differences}


def p_value(difference: dict) -> str:
    """The signed-rank p-value as printed (console and docs): three decimals below 0.1, two above,
    or "n/a" where it is undefined."""
    p = difference["p_wilcoxon"]
    return "n/a" if p is None else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def paired_rows(metrics: dict[int, dict], seeds: list[int], keys: list[str], row: str,
                other: str) -> dict:
    """Per metric, the paired difference row minus other over the seeds."""
    return {k: paired_difference([metrics[s][row][k] - metrics[s][other][k] for s in seeds]) for k in keys}


def search_consistency(runs: dict[int, dict]) -> dict:
    """Per coronet row, how its search chose across seeds: the tie-decided share and the distance from
    uniform of every seed, and the Spearman correlation of the per-group keep ratios between every
    pair of seeds (do the seeds agree on which groups to keep?)."""
    out = {}
    for row in sorted({r["row"] for run in runs.values() for r in run["rows"]
                       if "search" in r.get("generators", {}).get("G_A", {})}):
        per_seed = {s: next(r for r in run["rows"] if r["row"] == row)["generators"]["G_A"]["search"]
                    for s, run in sorted(runs.items())}
        keeps = [list(d["keep_ratios"].values()) for d in per_seed.values()]
        pairs = [float(stats.spearmanr(a, b)[0]) for i, a in enumerate(keeps) for b in keeps[i + 1:]]
        out[row] = {"tie_decided_fraction": [d["tie_decided_fraction"] for d in per_seed.values()],
                    "uniform_distance": [d["uniform_distance"] for d in per_seed.values()],
                    "keep_ratios": {s: d["keep_ratios"] for s, d in per_seed.items()},
                    "rank_correlation_between_seeds": pairs,
                    "mean_rank_correlation": statistics.mean(pairs) if pairs else None}
    return out


def seed_results(dataset: str) -> dict[int, dict]:
    found = {}
    for path in sorted(RESULTS.glob(f"baselines_{dataset}*.json")):
        if (m := re.fullmatch(rf"baselines_{dataset}(?:_seed(\d+))?\.json", path.name)):
            found[int(m.group(1) or 0)] = json.loads(path.read_text())
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="the result files' name after baselines_: edges2shoes, or "
                                    "edges2shoes_long for baselines_edges2shoes_long_seedN.json")
    p.add_argument("--seeds", type=int, nargs="+",
                   help="only these seeds (default: every seed with a result); the JSON lists them")
    args = p.parse_args()
    runs = seed_results(args.dataset)
    if args.seeds:
        if missing := sorted(set(args.seeds) - set(runs)):
            raise SystemExit(f"no result for seeds {missing} in {RESULTS} (found {sorted(runs)})")
        runs = {s: runs[s] for s in args.seeds}
    if len(runs) < 2:
        raise SystemExit(f"need results of at least two seeds in {RESULTS} (found {sorted(runs)})")
    metrics = {seed: {r["row"]: r["metrics"] for r in run["rows"]} for seed, run in runs.items()}
    common = set.intersection(*(set(m) for m in metrics.values()))
    if dropped := sorted(set().union(*metrics.values()) - common):
        print(f"rows not in every seed's result, left out: {', '.join(dropped)}")
    metrics = {seed: {row: v for row, v in m.items() if row in common} for seed, m in metrics.items()}
    seeds = sorted(runs)
    first = metrics[seeds[0]]
    keys = [k for k in BETTER if k in next(iter(first.values()))]
    rows = {}
    for row in first:
        rows[row] = {}
        for k in keys:
            values = [metrics[s][row][k] for s in seeds]
            rows[row][k] = {"mean": statistics.mean(values), "std": statistics.stdev(values),
                            "min": min(values), "max": max(values), "per_seed": values}
    wins, paired, resolution = {}, {}, {}
    for row in first:
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
            paired[f"{target} vs {b}"] = paired_rows(metrics, seeds, keys, row, f"{b}@{target}")
        if "dense" in first:
            paired[f"{target} vs dense"] = paired_rows(metrics, seeds, keys, row, "dense")
            resolution[target] = paired_rows(metrics, seeds, keys, "dense", f"uniform@{target}")
    name = f"baselines_{args.dataset}"
    out = RESULTS / f"{name}_seeds.json"
    result = {"benchmark": f"{name}_seeds", "seeds": seeds,
              "rows": rows, "coronet_beats_both_baselines": wins,
              "coronet_minus_baseline": paired, "dense_minus_uniform": resolution,
              "search": search_consistency(runs)}
    write_result(out, result)
    for row, values in rows.items():
        print(f"{row:16s} " + "  ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in values.items()))
    for target, per_metric in wins.items():
        print(f"coronet@{target} beats both baselines: "
              + ", ".join(f"{k} {sum(v)}/{len(v)} seeds" for k, v in per_metric.items()))
    shown = [(f"coronet@{pair}", d) for pair, d in paired.items()]
    shown += [(f"dense vs uniform@{target} (resolution)", d) for target, d in resolution.items()]
    for label, per_metric in shown:
        print(f"{label}: " + "  ".join(f"d{k} {v['mean']:+.4f} ± {v['stderr']:.4f} (s.e., p {p_value(v)})"
                                      for k, v in per_metric.items() if k in keys))


if __name__ == "__main__":
    main()
