"""ONNX export of compact generators: FP32 matches PyTorch, FP16 and INT8 run and are checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coronet.deploy import export_onnx, run_onnx
from coronet.errors import ConfigError
from coronet.models import get_generator
from coronet.pruning import hypernetize, materialize


def _compact(name: str, size: int, **kwargs):
    torch.manual_seed(0)
    hyper = hypernetize(get_generator(name, **kwargs))
    for group in list(hyper.latents.vectors):
        n = hyper.latents.groups[group].size
        hyper.latents.set_alive(group, torch.rand(n) < 0.6 if n > 2 else torch.ones(n, dtype=torch.bool))
    return materialize(hyper).eval()


@pytest.mark.parametrize(("name", "size", "kwargs"), [
    ("resnet_9blocks", 64, {"ngf": 8}),           # InstanceNorm + reflection padding
    ("unet_256", 256, {"ngf": 4}),                # BatchNorm + dropout (eval) + ConvTranspose k4
])
def test_compact_generators_export_to_onnx_and_match_pytorch(tmp_path, name, size, kwargs):
    compact = _compact(name, size, **kwargs)
    images = np.random.default_rng(0).uniform(-1, 1, (6, 3, size, size)).astype(np.float32)
    fp32 = export_onnx(compact, tmp_path / "g.onnx", (size, size), "fp32", check_images=images[:2])
    assert fp32.psnr_db >= 40 and fp32.max_abs_diff < 1e-4
    alone = tmp_path / "alone"  # the file alone (no weights sidecar) reproduces PyTorch on new images
    alone.mkdir()
    (alone / "g.onnx").write_bytes((tmp_path / "g.onnx").read_bytes())
    with torch.no_grad():
        np.testing.assert_allclose(run_onnx(alone / "g.onnx", images[2:4]),
                                   compact(torch.from_numpy(images[2:4])).numpy(), atol=1e-4)
    fp16 = export_onnx(compact, tmp_path / "g16.onnx", (size, size), "fp16", check_images=images[:2])
    assert fp16.psnr_db >= 40
    int8 = export_onnx(compact, tmp_path / "g8.onnx", (size, size), "int8", calibration=images,
                       check_images=images[:2])
    assert np.isfinite(int8.psnr_db) and int8.psnr_db > 15  # reported; quality depends on the model
    import onnx

    graph = onnx.load(str(tmp_path / "g8.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert any(t.data_type == onnx.TensorProto.INT8 for t in graph.initializer)  # int8 weights
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert left == ["g.onnx", "g16.onnx", "g8.onnx"]  # no sidecars or temporary files left behind


def test_int8_needs_calibration_images(tmp_path):
    with pytest.raises(ConfigError, match="calibration"):
        export_onnx(_compact("resnet_9blocks", 32, ngf=4), tmp_path / "g.onnx", (32, 32), "int8")
    with pytest.raises(ConfigError, match="dtype"):
        export_onnx(_compact("resnet_9blocks", 32, ngf=4), tmp_path / "g.onnx", (32, 32), "int4")


def test_export_command_writes_checked_onnx_files_into_the_run(tmp_path, capsys, caplog):
    import json
    import logging

    from coronet.cli.main import main
    from test_eval_bench import _finished_run

    run_dir = _finished_run(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert main(["export", str(run_dir), "--dtype", "fp32", "int8", "--calibration-images", "8"]) == 0
    assert not caplog.records, [r.getMessage() for r in caplog.records][:3]  # quantizer chatter
    out = capsys.readouterr().out
    assert "G_A fp32" in out and "G_A int8" in out and "PSNR vs PyTorch" in out
    assert main(["export", str(run_dir), "--dtype", "fp16"]) == 0  # a later data type is added
    report = json.loads((run_dir / "report.json").read_text())
    assert set(report["onnx"]["G_A"]) == {"fp32", "int8", "fp16"}
    assert report["onnx"]["G_A"]["fp32"]["psnr_db"] >= 40
    assert np.isfinite(report["onnx"]["G_A"]["int8"]["psnr_db"])
    assert (run_dir / "onnx" / "G_A.int8.onnx").is_file()
    assert "onnx/G_A.fp16.onnx" in (run_dir / "report.md").read_text()
    assert not [p for p in (run_dir / "onnx").iterdir() if p.suffix != ".onnx"]  # no temporaries
    capsys.readouterr()
    assert main(["export", str(tmp_path)]) == 2  # not a run folder: one clear line
    assert "report.json" in capsys.readouterr().err
    # a model without ONNX files beside one with them: said, not silently dropped
    plain = _finished_run(tmp_path, "plain", compress=False)
    assert main(["bench", str(run_dir), "--vs", str(plain), "--runs", "1", "--warmup", "0"]) == 0
    err = capsys.readouterr().err
    assert f"{plain} has no fp32 onnx file" in err
    assert f"coronet export {plain} --format onnx --dtype fp32" in err
