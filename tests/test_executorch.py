"""ExecuTorch export: the export-time rewrites equal the ops they replace, the rewritten generator
lowers to XNNPACK whole, and the programs the runtime runs match PyTorch."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from coronet.cli.main import main
from coronet.deploy.rewrite import ExplicitInstanceNorm2d, SlicedReflectionPad2d, rewrite_for_mobile
from coronet.models import get_generator


@given(st.tuples(*[st.integers(0, 3)] * 4), st.integers(4, 9), st.integers(4, 9))
def test_sliced_reflection_padding_equals_reflection_padding(padding, h, w):
    x = torch.randn(2, 3, h, w)
    assert torch.equal(SlicedReflectionPad2d(padding)(x), nn.ReflectionPad2d(padding)(x))


@pytest.mark.parametrize("affine", [False, True])
def test_explicit_instance_norm_equals_instance_norm(affine):
    norm = nn.InstanceNorm2d(5, affine=affine)
    if affine:
        nn.init.normal_(norm.weight)
        nn.init.normal_(norm.bias)
    x = torch.randn(3, 5, 7, 6) * 4 + 2
    assert (ExplicitInstanceNorm2d(norm)(x) - norm(x)).abs().max() <= 1e-5


@pytest.mark.parametrize(("name", "kwargs", "size"), [("resnet_9blocks", {"ngf": 4}, 32),
                                                      ("resnet_6blocks", {"ngf": 4, "norm": "batch"}, 32),
                                                      ("unet_128", {"ngf": 2, "norm": "instance"}, 128),
                                                      ("mobile_resnet_9blocks", {"ngf": 4}, 32)])
def test_the_rewritten_generator_computes_what_the_generator_does(name, kwargs, size):
    g = get_generator(name, **kwargs).eval()
    mobile = rewrite_for_mobile(g)
    assert not any(isinstance(m, (nn.ReflectionPad2d, nn.InstanceNorm2d)) for m in mobile.modules())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert (mobile(x) - g(x)).abs().max() <= 1e-5
    assert any(isinstance(m, (nn.ReflectionPad2d, nn.InstanceNorm2d)) for m in g.modules())  # untouched


needs_executorch = pytest.mark.skipif(
    importlib.util.find_spec("executorch") is None,
    reason="ExecuTorch is not installed: pip install 'coronet[executorch]' to run the .pte tests")


def _undelegated(model: nn.Module, size: int) -> list[str]:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    exported = torch.export.export(model, (torch.zeros(1, 3, size, size),))
    edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    return [str(n.target) for n in edge.exported_program().graph.nodes
            if n.op == "call_function" and "delegate" not in str(n.target) and "getitem" not in str(n.target)]


@needs_executorch
def test_only_the_rewritten_generator_runs_whole_in_xnnpack():
    g = get_generator("resnet_6blocks", ngf=2).eval()
    assert _undelegated(g, 16)  # reflection padding and instance norm stay outside as-is
    assert _undelegated(rewrite_for_mobile(g), 16) == []
    # the mobile family's depthwise convolutions too, at pruned widths
    compact = get_generator("mobile_resnet_9blocks", ngf=2, widths={"trunk": 5, "block0": 3}).eval()
    assert _undelegated(rewrite_for_mobile(compact), 16) == []


@needs_executorch
@pytest.mark.parametrize(("name", "widths"), [("resnet_9blocks", None),
                                              ("mobile_resnet_9blocks", {"trunk": 13, "block4": 5})])
def test_the_fp32_program_matches_pytorch(tmp_path, name, widths):
    from coronet.deploy.executorch_export import export_pte

    g = get_generator(name, ngf=4, widths=widths).eval()
    images = np.random.default_rng(0).uniform(-1, 1, (3, 3, 32, 32)).astype(np.float32)
    check = export_pte(g, tmp_path / "g.pte", (32, 32), "fp32", check_images=images)
    assert check.max_abs_diff <= 1e-4 and check.images == 3
    assert (tmp_path / "g.pte").read_bytes()[4:8] == b"ET12"  # an ExecuTorch flatbuffer


@needs_executorch
def test_int8_program_of_a_run_is_exported_checked_and_benched(tmp_path, capsys):
    from test_eval_bench import _finished_run

    run_dir = _finished_run(tmp_path)
    assert main(["export", str(run_dir), "--format", "pte", "--dtype", "int8",
                 "--calibration-images", "4"]) == 0
    assert "G_A int8" in capsys.readouterr().out
    report = json.loads((run_dir / "report.json").read_text())
    entry = report["pte"]["G_A"]["int8"]
    assert entry["path"] == "pte/G_A.int8.pte" and (run_dir / entry["path"]).is_file()
    assert np.isfinite(entry["psnr_db"]) and entry["psnr_db"] > 15  # untrained tiny weights
    assert main(["bench", str(run_dir), "--runs", "2", "--warmup", "1", "--backends", "torch",
                 "executorch-int8"]) == 0
    latency = json.loads((run_dir / "report.json").read_text())["latency"]["G_A"]
    # the run's rows beside the dense model's of the same architecture
    assert set(latency["latency_ms"]) == {"run|torch", "run|executorch-int8", "dense|torch",
                                          "dense|executorch-int8"}
    assert latency["psnr_db"] == {"executorch-int8": entry["psnr_db"]}
    assert "ExecuTorch programs, XNNPACK" in (run_dir / "report.md").read_text()


def test_without_executorch_the_export_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    from test_eval_bench import _finished_run

    run_dir = _finished_run(tmp_path)
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "executorch", None)  # as if it were not installed
    assert main(["export", str(run_dir), "--format", "pte"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "coronet[executorch]"' in err[0]
    assert "pte" not in json.loads((run_dir / "report.json").read_text())
