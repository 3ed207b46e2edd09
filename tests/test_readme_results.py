"""The README's seed-aggregated tables are the committed results, rendered, not retyped.

Typing tables of means, standard errors and p-values by hand went wrong four times (rounded SSIMs, a
standard error and a p-value); these tests render each table from its committed JSON the way
`benchmarks/baselines_seeds.py --markdown` prints it and look for it, line for line, in the README and
in `benchmarks/RESULTS.md`, which both show it. The README's per-seed table of the photo2monet 4× runs
is rendered and checked the same way, and so are RESULTS.md's tables of coronet against uniform at
several learning rates (`benchmarks/uniform_lr.py --markdown`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import baselines_seeds

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@pytest.mark.parametrize("result", ["variant_edges2shoes_default_seeds.json",
                                    "baselines_photo2monet_seeds.json",
                                    "baselines_photo2monet_long_seeds.json",
                                    "baselines_photo2monet_long10_seeds.json",
                                    "baselines_edges2shoes_long_seeds.json",
                                    "variant_edges2shoes_s1200-f1200_hyper-lr0.2_seeds.json",
                                    "variant_edges2shoes_s1200-f1200_hyper-lr0.1_seeds.json"])
def test_readme_paired_table_is_the_committed_result(result):
    table = "\n".join(baselines_seeds.markdown_table(json.loads((RESULTS / result).read_text())))
    for doc in ("README.md", "benchmarks/RESULTS.md"):
        assert table in (ROOT / doc).read_text(), f"{doc}'s table differs from {result}: rerun " \
            "`python benchmarks/baselines_seeds.py ... --markdown` and paste its lines"


@pytest.mark.parametrize("result", ["uniform_lr_edges2shoes_default.json",
                                    "uniform_lr_edges2shoes_hyper-lr1-to0.1.json",
                                    "uniform_lr_edges2shoes_s1200-f1200_hyper-lr0.1.json",
                                    "uniform_lr_edges2shoes_s1200-f1200_hyper-lr1-to0.1.json",
                                    "magnitude_lr_edges2shoes_s1200-f1200_hyper-lr0.1.json",
                                    "magnitude_lr_edges2shoes_long10_hyper-lr0.1.json",
                                    "uniform_lr_edges2shoes_long10_hyper-lr0.1.json",
                                    "magnitude_lr_edges2shoes_default.json",
                                    "uniform_lr_edges2shoes_default-rerun3.json",
                                    "uniform_lr_edges2shoes_ft-lr5.json",
                                    "uniform_lr_edges2shoes_default-rerun3_10pct_seeds0-7.json",
                                    "magnitude_lr_edges2shoes_default-rerun3.json",
                                    "magnitude_lr_edges2shoes_default-rerun3_10pct_seeds0-7.json",
                                    "uniform_lr_edges2shoes_dense-lr5.json",
                                    "uniform_lr_edges2shoes_dense-lr5_10pct_seeds0-7.json",
                                    "dense_lr_edges2shoes_default-rerun3.json",
                                    "dense_lr_edges2shoes_default-rerun3_10pct_seeds0-7.json",
                                    "dense_lr_edges2shoes_default-rerun3_x1-x5_10pct_seeds0-7.json",
                                    "uniform_lr_edges2shoes_default-rerun3_25pct_seeds0-7.json",
                                    "magnitude_lr_edges2shoes_default-rerun3_25pct_seeds0-7.json",
                                    "uniform_lr_edges2shoes_dense-lr5_25pct_seeds0-7.json",
                                    "dense_lr_edges2shoes_default-rerun3_x1-x5_25pct_seeds0-7.json"])
def test_results_uniform_lr_table_is_the_committed_result(result):
    import uniform_lr

    table = "\n".join(uniform_lr.markdown_table(json.loads((RESULTS / result).read_text()))[2:])
    assert table in (ROOT / "benchmarks" / "RESULTS.md").read_text(), f"RESULTS.md's table differs from " \
        f"{result}: rerun `python benchmarks/uniform_lr.py ... --markdown` and paste its lines"


def test_uniform_lr_table_marks_only_unanimous_seeds():
    import uniform_lr

    def metric(per_seed: list[float]) -> dict:
        return {"mean": sum(per_seed) / len(per_seed), "stderr": 0.01, "per_seed": per_seed}
    pairs = {"coronet@0.25 - uniform lr x2.5": {"psnr": metric([0.1, 0.2]), "ssim": metric([-0.01, 0.02]),
                                                "l1": metric([0.001, 0.002])},
             "uniform@0.25 lr x2.5 - x1": {"psnr": metric([1.0, 1.0])}}
    lines = uniform_lr.markdown_table({"pairs": pairs})
    assert lines[2:] == ["| ×2.5 | 25% | +0.15 ± 0.01 (2/2 ahead) | +0.005 ± 0.010 | +0.0015 ± 0.0100 "
                         "(2/2 behind) |"]
    magnitude = {"config": {"baseline": "magnitude"},
                 "pairs": {"coronet@0.1 - magnitude lr x1": pairs["coronet@0.25 - uniform lr x2.5"]}}
    lines = uniform_lr.markdown_table(magnitude)
    assert lines[0].startswith("| magnitude's lr | target |") and lines[2].startswith("| ×1 | 10% |")


def _difference(mean: float, stderr: float, p: float | None) -> dict:
    return {"mean": mean, "stderr": stderr, "p_t": p, "p_wilcoxon": p, "per_seed": []}


def test_markdown_table_rounds_signs_and_orders_rows():
    pair = {"psnr": _difference(-0.004, 0.05, 0.0665), "ssim": _difference(0.02449, 0.0021, 0.7651),
            "l1": _difference(-0.00074, 0.0005, None)}
    result = {"coronet_minus_baseline": {"0.25 vs uniform": pair, "0.1 vs magnitude": pair},
              "dense_minus_uniform": {"0.25": pair}}
    lines = baselines_seeds.markdown_table(result)
    assert lines[0] == "| target | vs | ΔPSNR (dB) | ΔSSIM | ΔL1 |"
    assert lines[1] == "|---|---|---|---|---|"
    row = "| −0.00 ± 0.05 (p 0.067) | +0.024 ± 0.002 (p 0.77) | −0.0007 ± 0.0005 (p n/a) |"
    assert lines[2] == "| 25% | uniform " + row
    assert lines[3] == "| 10% | magnitude " + row
    assert lines[4] == "| resolution: dense − uniform 25% | " + row
    assert len(lines) == 5


def test_readme_per_seed_table_is_the_committed_result():
    result = json.loads((RESULTS / "baselines_photo2monet_long_seeds.json").read_text())
    table = "\n".join(baselines_seeds.per_seed_table(result))
    assert table in (ROOT / "README.md").read_text(), "README's per-seed 4x table differs: rerun " \
        "`python benchmarks/baselines_seeds.py photo2monet_long --markdown` and paste its lines"


def test_per_seed_table_puts_dense_first_and_bolds_each_seeds_best():
    def row(psnr: list[float], l1: list[float]) -> dict:
        return {"psnr": {"per_seed": psnr}, "l1": {"per_seed": l1}}
    result = {"seeds": [0, 7], "rows": {"coronet@0.1": row([15.0, 14.0], [0.1, 0.3]),
                                        "dense": row([14.0, 16.0], [0.2, 0.2])}}
    assert baselines_seeds.per_seed_table(result) == [
        "| row | seed 0 | seed 7 |", "|---|---|---|",
        "| dense | 14.00 / 0.2000 | **16.00** / **0.2000** |",
        "| coronet 10% | **15.00** / **0.1000** | 14.00 / 0.3000 |"]


def test_readme_gpu_tables_are_the_committed_result():
    import gpu

    result = json.loads((RESULTS / "gpu_h200.json").read_text())
    tables = "\n".join(gpu.markdown_tables(result))
    assert tables in (ROOT / "README.md").read_text(), "README's GPU tables differ from gpu_h200.json: " \
        "rerun `python benchmarks/gpu.py --markdown benchmarks/results/gpu_h200.json` and paste its lines"


def test_readme_compile_table_is_the_committed_result():
    import gpu

    result = json.loads((RESULTS / "gpu_compile_h200.json").read_text())
    table = "\n".join(gpu.compile_table(result))
    assert table in (ROOT / "README.md").read_text(), "README's train.compile table differs: rerun " \
        "`python benchmarks/gpu.py --markdown benchmarks/results/gpu_compile_h200.json` and paste its lines"
