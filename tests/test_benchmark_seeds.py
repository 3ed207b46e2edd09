"""benchmarks/baselines_seeds.py: the statistics and the file matching behind the README's seed tables."""

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


def test_variant_results_replace_only_the_coronet_rows_they_trained(tmp_path, monkeypatch):
    """A variant run with --targets 0.25 must not pair the reference's old 10% coronet row."""
    monkeypatch.setattr(baselines_seeds, "RESULTS", tmp_path)
    reference = _run({"coronet@0.25": 14.5, "coronet@0.1": 14.6, "dense": 14.6, "uniform@0.25": 14.4,
                      "uniform@0.1": 14.3})
    variant = {**_run({"coronet@0.25": 14.9}), "reference": reference}
    (tmp_path / "variant_edges2shoes_latent-ones_seed2.json").write_text(json.dumps(variant))
    (tmp_path / "variant_edges2shoes_latent-ones-latent-lr50_seed2.json").write_text(json.dumps(variant))
    found = baselines_seeds.variant_results("edges2shoes", "latent-ones")
    assert list(found) == [2]
    rows = {r["row"]: r["metrics"]["psnr"] for r in found[2]["rows"]}
    assert rows == {"coronet@0.25": 14.9, "dense": 14.6, "uniform@0.25": 14.4}
