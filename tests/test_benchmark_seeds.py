"""benchmarks/baselines_seeds.py: the statistics and the file matching behind the seed tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

import baselines_seeds


def test_paired_difference_matches_a_paired_t_test_and_the_exact_signed_rank_law():
    coronet = np.array([14.52, 14.61, 14.40, 14.77, 14.58])
    uniform = np.array([14.35, 14.50, 14.45, 14.52, 14.40])
    d = baselines_seeds.paired_difference((coronet - uniform).tolist())
    assert d["mean"] == pytest.approx(np.mean(coronet - uniform))
    assert d["stderr"] == pytest.approx(np.std(coronet - uniform, ddof=1) / math.sqrt(5))
    assert d["p_t"] == pytest.approx(stats.ttest_rel(coronet, uniform).pvalue)
    # differences +0.17 +0.11 -0.05 +0.25 +0.18: the one negative has the smallest rank, so W- = 1;
    # of the 2^5 equally likely sign patterns, W <= 1 happens for {} and {rank 1}: 2 each side
    assert d["p_wilcoxon"] == pytest.approx(4 / 32)


def test_paired_difference_of_identical_rows_is_zero_with_p_one():
    d = baselines_seeds.paired_difference([0.0, 0.0, 0.0])
    assert (d["mean"], d["stderr"], d["p_t"], d["p_wilcoxon"]) == (0.0, 0.0, 1.0, 1.0)
    assert baselines_seeds.paired_difference([0.1, 0.1])["p_wilcoxon"] is None  # undefined, not 1


def _run(metrics: dict[str, float]) -> dict:
    return {"rows": [{"row": row, "target": 1.0 if row == "dense" else float(row.split("@")[1]),
                      "metrics": {"psnr": value}} for row, value in metrics.items()]}


def test_seed_results_take_only_the_datasets_own_files(tmp_path, monkeypatch):
    monkeypatch.setattr(baselines_seeds, "RESULTS", tmp_path)
    for name in ("baselines_edges2shoes.json", "baselines_edges2shoes_seed3.json",
                 "baselines_edges2shoes_long_seed1.json", "baselines_edges2shoes_seeds.json"):
        (tmp_path / name).write_text(json.dumps(_run({"dense": 14.0})))
    assert sorted(baselines_seeds.seed_results("edges2shoes")) == [0, 3]
    assert sorted(baselines_seeds.seed_results("edges2shoes_long")) == [1]


def test_the_aggregate_pairs_every_baseline_seed_by_seed(tmp_path, monkeypatch):
    import sys

    monkeypatch.setattr(baselines_seeds, "RESULTS", tmp_path)
    seeds = [{"coronet@0.25": 14.6, "dense": 14.7, "uniform@0.25": 14.4, "magnitude@0.25": 14.5},
             {"coronet@0.25": 14.8, "dense": 14.6, "uniform@0.25": 14.5, "magnitude@0.25": 14.9}]
    for seed, psnr in enumerate(seeds):
        (tmp_path / f"baselines_edges2shoes{f'_seed{seed}' if seed else ''}.json").write_text(
            json.dumps(_run(psnr)))
    monkeypatch.setattr(sys, "argv", ["baselines_seeds.py", "edges2shoes"])
    baselines_seeds.main()
    result = json.loads((tmp_path / "baselines_edges2shoes_seeds.json").read_text())
    assert result["seeds"] == [0, 1]
    pairs = result["coronet_minus_baseline"]
    assert pairs["0.25 vs uniform"]["psnr"]["per_seed"] == pytest.approx([0.2, 0.3])
    assert pairs["0.25 vs magnitude"]["psnr"]["per_seed"] == pytest.approx([0.1, -0.1])
    assert result["dense_minus_uniform"]["0.25"]["psnr"]["per_seed"] == pytest.approx([0.3, 0.1])
    assert result["coronet_beats_both_baselines"]["0.25"]["psnr"] == [True, False]
