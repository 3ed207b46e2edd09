"""benchmarks/common.py and the seed tables: the statistics and the file matching behind them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

import baselines
import common


def test_paired_difference_matches_a_paired_t_test_and_the_exact_signed_rank_law():
    coronet = np.array([14.52, 14.61, 14.40, 14.77, 14.58])
    uniform = np.array([14.35, 14.50, 14.45, 14.52, 14.40])
    d = common.paired_difference((coronet - uniform).tolist())
    assert d["mean"] == pytest.approx(np.mean(coronet - uniform))
    assert d["stderr"] == pytest.approx(np.std(coronet - uniform, ddof=1) / math.sqrt(5))
    assert d["p_t"] == pytest.approx(stats.ttest_rel(coronet, uniform).pvalue)
    # differences +0.17 +0.11 -0.05 +0.25 +0.18: the one negative has the smallest rank, so W- = 1;
    # of the 2^5 equally likely sign patterns, W <= 1 happens for {} and {rank 1}: 2 each side
    assert d["p_wilcoxon"] == pytest.approx(4 / 32)


def test_paired_difference_of_identical_rows_is_zero_with_p_one():
    d = common.paired_difference([0.0, 0.0, 0.0])
    assert (d["mean"], d["stderr"], d["p_t"], d["p_wilcoxon"]) == (0.0, 0.0, 1.0, 1.0)
    assert common.paired_difference([0.1, 0.1])["p_wilcoxon"] is None  # undefined, not 1


def _run(metrics: dict[str, float], commit: str = "abc1234def") -> dict:
    return {"environment": {"commit": commit},
            "rows": [{"row": row, "metrics": {"psnr": v, "ssim": v / 20, "l1": 1 / v}}
                     for row, v in metrics.items()]}


def test_seed_files_take_only_the_stems_own_files_in_seed_order(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    for name in ("b.json", "b_seed3.json", "b_seed10.json", "b_seed3_at5.json", "b_long_seed1.json",
                 "b_seeds.json"):
        (tmp_path / name).write_text("{}")
    assert common.seed_files("b") == ["b.json", "b_seed3.json", "b_seed3_at5.json", "b_seed10.json"]
    assert common.seed_files("b_long") == ["b_long_seed1.json"]


def test_the_quality_table_pairs_every_baseline_seed_by_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    seeds = [{"coronet@0.1": 14.6, "dense": 14.7, "uniform@0.1": 14.4, "magnitude@0.1": 14.5},
             {"coronet@0.1": 14.8, "dense": 14.6, "uniform@0.1": 14.5, "magnitude@0.1": 14.9}]
    runs = []
    for seed, psnr in enumerate(seeds):
        runs.append(_run(psnr, commit=f"{seed}" * 12))
        (tmp_path / f"b{f'_seed{seed}' if seed else ''}.json").write_text(json.dumps(runs[-1]))
    assert baselines.paired_over_seeds(runs, "coronet@0.1", "uniform@0.1")["psnr"]["per_seed"] == \
        pytest.approx([0.2, 0.3])
    assert baselines.paired_over_seeds(runs, "coronet@0.1", "magnitude@0.1")["psnr"]["per_seed"] == \
        pytest.approx([0.1, -0.1])
    resolution = baselines.paired_over_seeds(runs, "dense", "uniform@0.1")
    assert resolution["psnr"]["per_seed"] == pytest.approx([0.3, 0.1])
    assert common.source("b.json", "b_seed1.json") == "`b.json` (0000000), `b_seed1.json` (1111111)"


def test_seed_source_names_the_pattern_its_file_count_and_each_commit_once(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    for name, commit in (("c_seed0.json", "a" * 40), ("c_seed1.json", "a" * 40),
                         ("c_seed2.json", "b" * 40 + "-dirty"), ("cc_seed0.json", "c" * 40)):
        (tmp_path / name).write_text(json.dumps({"environment": {"commit": commit}}))
    assert common.seed_source("c") == "`c*.json` (3 files; commits aaaaaaa, bbbbbbb-dirty)"
    (tmp_path / "c_seed2.json").unlink()
    assert common.seed_source("c") == "`c*.json` (2 files; commit aaaaaaa)"
