"""`coronet eval` (protocol, metrics, report) and `coronet bench` (interleaved latency)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from coronet.cli.main import main
from coronet.deploy.latency import measure_interleaved
from coronet.eval import fid
from coronet.eval.evaluate import evaluate_generator
from coronet.eval.paired import paired_metrics
from coronet.eval.protocol import evaluation_split
from coronet.gan.trainer import Trainer
from coronet.runs.outputs import write_run_outputs
from test_training import tiny


def _finished_run(tmp_path: Path, name: str = "run", compress: bool = True, model: str = "pix2pix",
                  **train) -> Path:
    """A finished tiny run, written as `coronet compress` writes it."""
    run_dir = tmp_path / name
    cfg = tiny(tmp_path, model=model, **{"search": 6, "finetune": 2, "decay": 1,
                                          "checkpoint_every": 0, **train})
    run_dir.mkdir()
    (run_dir / "config.json").write_text(cfg.to_json())
    trainer = Trainer(cfg, run_dir, compress=compress)
    write_run_outputs(trainer.run(), run_dir, trainer.test_set)
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    torch.manual_seed(0)
    tmp = tmp_path_factory.mktemp("runs")
    return _finished_run(tmp, "compressed", True), _finished_run(tmp, "dense", False)


def _unaligned(root: Path, counts: dict[str, int], size: int = 16) -> Path:
    rng = np.random.default_rng(0)
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{i}.png")
    return root


def test_cyclegan_protocol_sources_are_the_test_domain_and_reals_train_plus_test(tmp_path):
    root = _unaligned(tmp_path / "d", {"trainA": 5, "trainB": 4, "testA": 3, "testB": 2})
    split = evaluation_split(str(root), "cyclegan", "G_A", size=16, batch=2)
    assert split.count == 3 and split.real_count == 4 + 2
    assert [p.parent.name for p in split.real_files] == ["trainB"] * 4 + ["testB"] * 2
    assert sum(x.shape[0] for x, truth in split.sources() if truth is None) == 3
    back = evaluation_split(str(root), "cyclegan", "G_B", size=16)
    assert back.count == 2 and back.real_count == 5 + 3
    swapped = evaluation_split(str(root), "cyclegan", "G_A", direction="BtoA", size=16)
    assert swapped.count == 2 and {p.parent.name for p in swapped.real_files} == {"trainA", "testA"}


def test_pix2pix_paired_metrics_match_the_training_report_path():
    split = evaluation_split("builtin:edges2shapes", "pix2pix", "G_A", size=32, batch=4)
    g = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())
    ours = evaluate_generator(g, split)
    from coronet.data import TransformConfig, make_dataset

    cfg = TransformConfig(32, 32, "resize", False)
    test = make_dataset("builtin:edges2shapes", True, "test", "AtoB", cfg)
    reference = paired_metrics(g, torch.utils.data.DataLoader(test, batch_size=5))
    for key in ("psnr", "ssim", "l1"):
        assert ours[key] == pytest.approx(reference[key], rel=1e-5)
    assert ours["images"] == reference["images"] == len(test)


def test_fid_is_zero_for_a_perfect_translation_and_real_features_are_cached(tmp_path):
    root = _unaligned(tmp_path / "d", {"trainA": 2, "trainB": 6, "testA": 8, "testB": 2}, size=24)
    for i in range(8):  # testA == the six trainB + two testB images: identity is a perfect G_A
        source = root / ("trainB" if i < 6 else "testB") / f"{i if i < 6 else i - 6}.png"
        (root / "testA" / f"{i}.png").write_bytes(source.read_bytes())
    net = fid.random_inception(seed=0)  # stands in for the FID weights, which tests cannot have
    split = evaluation_split(str(root), "cyclegan", "G_A", size=24, batch=4)
    cache = tmp_path / "cache"
    perfect = evaluate_generator(nn.Identity(), split, net, cache_dir=cache, settings={"t": 1})
    assert perfect["fid"] == pytest.approx(0.0, abs=1e-6 * (1 + perfect["fid"]) + 1e-3)
    assert perfect["real_images"] == 8 and "kid" in perfect
    cached = list(cache.glob("real_stat_*.npz"))
    assert len(cached) == 1 and fid.load_statistics(cached[0])[0].shape == (2048,)
    stamp = cached[0].stat().st_mtime_ns
    flipped = evaluate_generator(nn.Sequential(), split, net, cache_dir=cache, settings={"t": 1})
    assert cached[0].stat().st_mtime_ns == stamp  # reused, not recomputed
    noisy = evaluate_generator(_Negate(), split, net, cache_dir=cache, settings={"t": 1})
    assert noisy["fid"] > perfect["fid"] + 1e-3 and flipped["fid"] == pytest.approx(perfect["fid"])
    stats = fid.load_statistics(cached[0])
    with_file = evaluate_generator(_Negate(), split, net, real_stats=stats)
    assert with_file["fid"] == pytest.approx(noisy["fid"], rel=1e-6) and "kid" not in with_file


class _Negate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x


def test_eval_command_adds_metrics_to_the_report(runs, capsys):
    run_dir, _ = runs
    assert main(["eval", str(run_dir), "--no-fid", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["evaluation"] == printed
    g = printed["generators"]["G_A"]
    assert printed["checkpoint"].startswith("last")
    assert g["macs"] == report["generators"]["G_A"]["compressed"]["macs"]
    assert g["psnr"] == pytest.approx(report["generators"]["G_A"]["test_metrics"]["psnr"], rel=1e-5)
    assert "fid" not in g


def test_eval_without_fid_weights_fails_with_the_way_to_get_them(runs, tmp_path, monkeypatch, capsys):
    import pytorch_fid.inception as pfi

    run_dir, _ = runs
    before = (run_dir / "report.json").read_text()
    monkeypatch.delenv(fid.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(pfi, "FID_WEIGHTS_URL", "http://127.0.0.1:9/pt_inception.pth")
    assert main(["eval", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert fid.WEIGHTS_NAME in err and "--fid-weights" in err and "--no-fid" in err
    assert (run_dir / "report.json").read_text() == before  # nothing half-written
    assert main(["eval", str(run_dir), "--generator", "G_B", "--no-fid"]) == 2
    assert "no exported G_B" in capsys.readouterr().err


def test_measure_interleaved_alternates_the_order_and_counts_runs():
    calls: list[str] = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timed = measure_interleaved(runners, runs=4, warmup=1)
    assert calls[:3] == list("abc")  # warm-up
    assert calls[3:] == list("abc") + list("cba") + list("abc") + list("cba")
    assert all(t["runs"] == 4 and t["median_ms"] >= 0 for t in timed.values())
    with pytest.raises(ValueError):
        measure_interleaved(runners, runs=0)


def test_timed_onnx_sessions_sleep_instead_of_spinning(tmp_path):
    """Spinning worker threads of one session slow the next model timed (interleaving)."""
    from coronet.deploy import export_onnx
    from coronet.deploy.latency import onnx_session
    from coronet.models import get_generator

    export_onnx(get_generator("resnet_9blocks", ngf=2), tmp_path / "g.onnx", (16, 16), "fp32")
    options = onnx_session(tmp_path / "g.onnx", threads=2).get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2


def test_bench_command_compares_two_runs_interleaved(runs, capsys):
    run_dir, dense_dir = runs
    assert main(["export", str(run_dir), "--dtype", "fp32", "--calibration-images", "4"]) == 0
    capsys.readouterr()
    assert main(["bench", str(run_dir), "--vs", str(dense_dir), "--runs", "3", "--warmup", "1",
                 "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["latency_ms"]) == {"run|torch", "run|onnxruntime-fp32", "vs|torch"}
    assert set(result["speedup"]) == {"torch"} and result["threads"] == 1
    macs = json.loads((dense_dir / "report.json").read_text())["generators"]["G_A"]["dense"]["macs"]
    assert result["macs_ratio"] == pytest.approx(macs / result["models"]["run"]["macs"])
    assert result["macs_ratio"] > 1.5  # the compressed run really is smaller
    report = json.loads((run_dir / "report.json").read_text())
    assert report["latency"]["G_A"]["latency_ms"] == result["latency_ms"]
    plot = run_dir / "latency_G_A.png"  # latency against MACs, a line per runtime
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![latency against MACs](latency_G_A.png)" in (run_dir / "report.md").read_text()
    assert main(["bench", str(dense_dir), "--backends", "onnxruntime-int8"]) == 2
    assert "coronet export" in capsys.readouterr().err


def test_bench_without_vs_times_the_dense_model_of_the_same_architecture(runs, capsys):
    run_dir, dense_dir = runs
    assert main(["export", str(run_dir), "--dtype", "fp32", "--calibration-images", "4"]) == 0
    capsys.readouterr()
    assert main(["bench", str(run_dir), "--runs", "3", "--warmup", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reference"] == "dense"
    assert set(result["latency_ms"]) == {"run|torch", "run|onnxruntime-fp32", "dense|torch",
                                         "dense|onnxruntime-fp32"}
    assert set(result["speedup"]) == {"torch", "onnxruntime-fp32"}
    dense_macs = json.loads((dense_dir / "report.json").read_text())["generators"]["G_A"]["dense"]["macs"]
    assert result["models"]["dense"]["macs"] == dense_macs  # the same architecture, dense
    assert result["models"]["run"]["name"] == run_dir.name
    markdown = (run_dir / "report.md").read_text()
    assert f"| {run_dir.name} | torch |" in markdown and "| dense | onnxruntime-fp32 |" in markdown
    assert "Speed-up over dense in torch" in markdown


def test_a_noisy_timing_is_flagged_in_the_output_and_the_report(runs, capsys, monkeypatch):
    from coronet.cli import bench_cmd

    def spread(runners, runs, warmup, progress=None):
        return {k: {"median_ms": 10.0, "p10_ms": 5.0, "p90_ms": 20.0, "runs": runs} for k in runners}

    monkeypatch.setattr(bench_cmd, "measure_interleaved", spread)
    run_dir, _ = runs
    capsys.readouterr()
    assert main(["bench", str(run_dir), "--runs", "2", "--warmup", "0", "--backends", "torch"]) == 0
    out = capsys.readouterr().out
    assert "NOISY" in out and "p90/p10 above 1.5" in out
    assert "Noisy timings" in (run_dir / "report.md").read_text()
