"""Latency targets: the parts a latency model is fitted on, the fit, the cache, the budget's
refusals and `coronet compress --target-latency` end to end (timed on onnxruntime at tiny sizes;
no assertion depends on how fast the machine is)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import TINY, TINY_IDS
from coronet.cli.main import main
from coronet.deploy import latency_model as lm
from coronet.errors import BudgetError, ConfigError
from coronet.models import get_generator
from coronet.models.layout import RGB_IN
from coronet.pruning import LATENCY_UNITS_PER_MS, BudgetTarget, CostModel, resolve_budget
from coronet.pruning.cost import LATENCY_PARTS

PS_PER_US = LATENCY_UNITS_PER_MS / 1000  # the latency form counts picoseconds; the models give µs


def _random_widths(g, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    return {grp.name: rng.randint(1, grp.size) if grp.prunable else grp.size for grp in g.layout.groups}


@pytest.mark.parametrize(("name", "kwargs", "size"), TINY, ids=TINY_IDS)
def test_the_parts_count_what_a_forward_pass_of_the_compact_model_computes(name, kwargs, size):
    """Reference: hooks on a real forward of the generator built at random widths count every
    convolution's MACs by kind and the elements every declared layer writes."""
    dense = get_generator(name, **kwargs)
    cost = CostModel(dense, size)
    for seed in range(3):
        widths = _random_widths(dense, seed)
        compact = dense.spec.build(widths).eval()
        depthwise = {s.module: s.depthwise for s in compact.layout.convs}
        declared = set(depthwise) | {o.module for o in compact.layout.channel_ops}
        counted = dict.fromkeys(LATENCY_PARTS, 0)
        counted["one"] = 1

        def hook(module, inputs, output, name, counted=counted, depthwise=depthwise):
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                k2 = module.kernel_size[0] * module.kernel_size[1]
                if depthwise[name]:
                    counted["depthwise_macs"] += output.numel() * k2
                else:
                    kind = "transposed_macs" if isinstance(module, nn.ConvTranspose2d) else "conv_macs"
                    counted[kind] += output.numel() * module.in_channels * k2
                    counted["patches"] += output.numel() // output.shape[1] * k2 * module.in_channels
            counted["activations"] += output.numel()

        handles = [m.register_forward_hook(lambda m, i, o, n=n: hook(m, i, o, n))
                   for n, m in compact.named_modules() if n in declared]
        with torch.no_grad():
            compact(torch.zeros(1, compact.layout.group(RGB_IN).size, *size))
        for h in handles:
            h.remove()
        assert lm.part_values(cost, widths) == pytest.approx(counted, rel=1e-12), seed


def test_a_weighted_form_costs_and_saves_like_its_parts():
    dense = get_generator("mobile_resnet_9blocks", ngf=4)
    cost = CostModel(dense, (32, 32))
    weights = dict(zip(LATENCY_PARTS, (2e-6, 3e-6, 5e-6, 1e-5, 1e-4, 40.0), strict=True))  # µs per unit
    cost.add_form("latency", {k: v * PS_PER_US for k, v in weights.items()})
    widths = _random_widths(dense, 1)
    assert cost.cost("latency", widths) == pytest.approx(PS_PER_US * lm.predict_us(weights, cost, widths),
                                                         rel=1e-6)
    w = cost.vector(widths)
    savings = cost.savings_vector("latency", w)
    for i in range(len(w)):  # integer arithmetic: a death saves exactly what the costs differ by
        less = w.copy()
        less[i] -= 1
        assert savings[i] == cost.cost_vector("latency", w) - cost.cost_vector("latency", less)
    with pytest.raises(ValueError, match="unknown cost parts"):
        cost.add_form("latency", {"flops": 1.0})


def test_the_fit_recovers_the_weights_that_made_the_times():
    dense = get_generator("resnet_9blocks", ngf=4)
    cost = CostModel(dense, (32, 32))
    rng = np.random.default_rng(0)
    true = dict(zip(LATENCY_PARTS, (1e-5, 4e-5, 0.0, 3e-5, 2e-3, 150.0), strict=True))
    settings = [lm.random_widths(cost, rng, 1) for _ in range(20)]
    parts = [lm.part_values(cost, w) for w in settings]
    fitted = lm.fit(parts, [sum(true[k] * p[k] for k in true) for p in parts])
    for name in LATENCY_PARTS:
        assert fitted[name] == pytest.approx(true[name], rel=1e-6, abs=1e-12), name
    assert all(v >= 0 for v in lm.fit(parts, [1e3 + 50 * rng.random() for _ in parts]).values())


def test_a_latency_outside_the_reachable_range_is_refused_with_the_range():
    dense = get_generator("resnet_9blocks", ngf=4)
    cost = CostModel(dense, (32, 32))
    cost.add_form("latency", {k: v * PS_PER_US for k, v in zip(
        LATENCY_PARTS, (1e-5, 1e-5, 1e-5, 1e-5, 1e-3, 100.0), strict=True)})
    floor = resolve_budget(BudgetTarget("latency", ratio=1.0), cost, 1).floor
    dense_cost = cost.cost("latency", cost.dense_widths)
    for ps in (floor / 2, dense_cost * 2):
        with pytest.raises(BudgetError, match=r"outside what this generator reaches: .* ms .* to .* ms"):
            resolve_budget(BudgetTarget("latency", absolute=ps), cost, 1)
    budget = resolve_budget(BudgetTarget("latency", absolute=(floor + dense_cost) / 2), cost, 1)
    assert budget.lower <= budget.limit and budget.metric == "latency"
    with pytest.raises(BudgetError, match="no latency form"):
        resolve_budget(BudgetTarget("latency", ratio=0.5), CostModel(dense, (32, 32)), 1)


def test_the_cache_is_reused_only_for_the_same_key(tmp_path, monkeypatch):
    calls = []

    def fake_calibrate(dense, size, runtime, min_channels, **kwargs):
        calls.append(runtime)
        return {"weights": dict.fromkeys(LATENCY_PARTS, 1.0), "dense_ms": 1.0,
                "fit_error": {}, "samples": 0}

    monkeypatch.setattr(lm, "calibrate", fake_calibrate)
    dense = get_generator("resnet_9blocks", ngf=4)
    fp32 = lm.Runtime("onnxruntime", "fp32", 1)
    path = lm.latency_model(dense, (32, 32), fp32, 1, folder=tmp_path)
    assert lm.latency_model(dense, (32, 32), fp32, 1, folder=tmp_path) == path and len(calls) == 1
    lm.latency_model(dense, (32, 32), lm.Runtime("onnxruntime", "fp32", 2), 1, folder=tmp_path)
    lm.latency_model(dense, (64, 64), fp32, 1, folder=tmp_path)
    assert len(calls) == 3
    stale = json.loads(path.read_text())  # a file carried over from another runtime version
    stale["key"]["runtime_version"] = "0.0.1"
    path.write_text(json.dumps(stale))
    assert lm.latency_model(dense, (32, 32), fp32, 1, folder=tmp_path) == path and len(calls) == 4
    path.write_text("{ half a file")
    lm.latency_model(dense, (32, 32), fp32, 1, folder=tmp_path)
    assert len(calls) == 5 and json.loads(path.read_text())["key"] == lm.cache_key(dense, (32, 32), fp32)


def test_runtime_settings_are_refused_in_one_line():
    for kwargs, message in (({"name": "tflite"}, "onnxruntime or executorch"),
                            ({"dtype": "fp16"}, "fp32 or int8"), ({"threads": 0}, ">= 1")):
        with pytest.raises(ConfigError, match=message):
            lm.Runtime(**kwargs)


TINY_RUN = ["--ngf", "4", "--load-size", "36", "--crop-size", "32", "--batch-size", "2",
            "--search-steps", "40", "--finetune-steps", "2", "--latency-threads", "1",
            "--set", "data.max_train_items=8",
            "--set", "prune.min_channels=1", "--set", "model.ndf=8", "--set", "train.checkpoint_every=0"]


def test_compress_to_a_latency_lands_on_the_prediction_and_reports_the_measurement(tmp_path, monkeypatch,
                                                                                    capsys):
    monkeypatch.setenv("CORONET_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    dense = get_generator("resnet_9blocks", ngf=4)
    runtime = lm.Runtime("onnxruntime", "fp32", 1)
    cached = lm.latency_model(dense, (32, 32), runtime, 1, samples=4, runs=3, desc=None)  # measured, small
    model = json.loads(cached.read_text())
    cost = CostModel(dense, (32, 32))
    cost.add_form("latency", {k: v * PS_PER_US for k, v in model["weights"].items()})
    floor_ms = resolve_budget(BudgetTarget("latency", ratio=1.0), cost, 1).floor / LATENCY_UNITS_PER_MS
    dense_ms = cost.cost("latency", cost.dense_widths) / LATENCY_UNITS_PER_MS
    assert main(["compress", *TINY_RUN, "--target-latency", f"{floor_ms / 2:.6f}"]) == 2
    assert "outside what this generator reaches" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

    monkeypatch.setattr(lm, "calibrate", lambda *a, **k: pytest.fail("the cached model was measured again"))
    target = floor_ms + 0.6 * (dense_ms - floor_ms)
    assert main(["compress", *TINY_RUN, "--target-latency", f"{target:.6f}"]) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    row = report["latency_target"]["generators"]["G_A"]
    assert 0.98 * target <= row["predicted_ms"] <= target * (1 + 1e-6)
    assert row["measured_ms"] > 0 and report["target"]["metric"] == "latency"
    assert json.loads((run_dir / "latency-model.json").read_text()) == model  # the run keeps its copy
    assert json.loads((run_dir / "config.json").read_text())["prune"]["latency_model"] == "latency-model.json"
    assert "measured after export" in (run_dir / "report.md").read_text()


@pytest.mark.skipif(importlib.util.find_spec("executorch") is None, reason="the executorch extra")
def test_an_int8_executorch_model_is_timed_and_a_missing_runtime_named(monkeypatch):
    g = get_generator("resnet_9blocks", ngf=4)
    timed = lm.time_generators({"g": g}, (32, 32), lm.Runtime("executorch", "int8", 1), runs=2, warmup=1)
    assert timed["g"] > 0
    monkeypatch.setitem(sys.modules, "executorch.exir", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match="pip install"):
        lm.Runtime("executorch", "fp32", 1).version()
