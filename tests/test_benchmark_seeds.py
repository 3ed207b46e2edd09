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


def _metrics_run(psnr: dict[str, float]) -> dict:
    """A result whose rows have every metric uniform_lr.py pairs: SSIM and L1 follow PSNR."""
    return {"rows": [{"row": row, "target": 1.0 if row == "dense" else float(row.split("@")[1]),
                      "metrics": {"psnr": v, "ssim": v / 100, "l1": 1 / v}} for row, v in psnr.items()]}


def test_uniform_lr_pairs_the_dense_control_at_every_target_on_either_side(tmp_path, monkeypatch):
    import sys

    import uniform_lr

    monkeypatch.setattr(baselines_seeds, "RESULTS", tmp_path)
    monkeypatch.setattr(uniform_lr, "RESULTS", tmp_path)
    reference = _metrics_run({"coronet@0.25": 14.5, "coronet@0.1": 14.6, "dense": 14.6,
                              "uniform@0.25": 14.4, "uniform@0.1": 14.3})
    own = {"default": [{"coronet@0.25": 14.6, "coronet@0.1": 14.9},
                       {"coronet@0.25": 14.7, "coronet@0.1": 14.5}],
           "dense-lr5": [{"dense": 15.0}, {"dense": 15.2}],
           "uniform-lr5": [{"uniform@0.25": 14.7, "uniform@0.1": 14.5},
                           {"uniform@0.25": 14.8, "uniform@0.1": 14.4}]}
    for variant, seeds in own.items():
        for seed, psnr in enumerate(seeds):
            tag = f"_seed{seed}" if seed else ""
            (tmp_path / f"variant_edges2shoes_{variant}{tag}.json").write_text(
                json.dumps({**_metrics_run(psnr), "reference": reference}))

    def pairs(*argv: str) -> dict:
        out = tmp_path / "pairs.json"
        monkeypatch.setattr(sys, "argv", ["uniform_lr.py", "edges2shoes", "--seeds", "0", "1",
                                          "--scales", "5", "--out", str(out), *argv])
        uniform_lr.main()
        return json.loads(out.read_text())

    left = pairs("--coronet", "dense-lr5", "--baseline", "uniform")["pairs"]
    assert set(left) == {"dense@0.25 - uniform lr x5", "dense@0.1 - uniform lr x5"}
    assert left["dense@0.25 - uniform lr x5"]["psnr"]["per_seed"] == pytest.approx([0.3, 0.4])
    assert left["dense@0.1 - uniform lr x5"]["psnr"]["per_seed"] == pytest.approx([0.5, 0.8])
    result = pairs("--coronet", "default", "--baseline", "dense", "--markdown")
    right = result["pairs"]
    assert right["coronet@0.25 - dense lr x5"]["psnr"]["per_seed"] == pytest.approx([-0.4, -0.5])
    assert right["coronet@0.1 - dense lr x5"]["psnr"]["per_seed"] == pytest.approx([-0.1, -0.7])
    table = uniform_lr.markdown_table(result)
    assert table[0].startswith("| dense's lr | target |") and table[2].startswith("| ×5 | 25% | −0.45 ±")
    table = uniform_lr.markdown_table(pairs("--coronet", "dense-lr5", "--baseline", "uniform"))
    assert table[0].startswith("| dense minus uniform at lr |")
    assert table[3].startswith("| ×5 | 10% | +0.65 ±")
    with pytest.raises(SystemExit, match="same baseline"):
        pairs("--coronet", "dense-lr5", "--baseline", "dense")
