"""`coronet compress/train/translate` as a user runs them: subprocesses, SIGKILL, torchrun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

TINY = ["--ngf", "4", "--load-size", "36", "--crop-size", "32", "--batch-size", "2",
        "--search-steps", "24", "--finetune-steps", "8", "--target-macs", "0.3",
        "--set", "data.max_train_items=12", "--set", "prune.min_channels=1",
        "--set", "model.ndf=8", "--set", "train.decay=4", "--set", "train.checkpoint_every=3"]


def coronet(*args: str, cwd: Path, check: bool = True, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "coronet.cli.main", *args], cwd=cwd, text=True,
                          capture_output=True, check=check, env=env)  # no time limit: a busy machine is slow


def _run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "runs").iterdir() if p.is_dir())


def test_dry_run_prints_the_resolved_config(tmp_path):
    out = coronet("compress", "--config", "cyclegan-horse2zebra", "--target-macs", "2.6e9",
                  "--dry-run", cwd=tmp_path)
    cfg = json.loads(out.stdout)
    assert cfg["prune"]["absolute"] == 2.6e9 and cfg["prune"]["ratio"] is None
    assert cfg["train"]["model"] == "cyclegan" and cfg["model"]["ngf"] == 64
    assert not (tmp_path / "runs").exists()


def test_bad_input_is_one_line_and_keeps_earlier_results(tmp_path):
    (tmp_path / "runs" / "00000-old").mkdir(parents=True)
    (tmp_path / "runs" / "00000-old" / "report.json").write_text("{}")
    bad = coronet("compress", "--dataroot", str(tmp_path / "nowhere"), cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr
    bad = coronet("compress", "--target-macs", "0", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "in (0, 1] or an absolute count above 1 (got 0)" in bad.stderr
    assert [p.name for p in _run_dirs(tmp_path)] == ["00000-old"]
    assert (tmp_path / "runs" / "00000-old" / "report.json").read_text() == "{}"


def test_sigkill_then_resume_finishes_with_the_uninterrupted_weights(tmp_path):
    whole_root, broken_root = tmp_path / "whole", tmp_path / "broken"
    whole_root.mkdir()
    broken_root.mkdir()
    coronet("compress", *TINY, cwd=whole_root)
    proc = subprocess.Popen([sys.executable, "-m", "coronet.cli.main", "compress", *TINY],
                            cwd=broken_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = None
    while proc.poll() is None:
        runs = broken_root / "runs"
        found = list(runs.glob("*/checkpoint-latest.pt")) if runs.exists() else []
        if found and found[0].stat().st_size > 0:
            ckpt = found[0]
            time.sleep(0.5)
            break
        time.sleep(0.05)
    assert ckpt is not None and proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_dir = ckpt.parent
    assert not (run_dir / "report.json").exists()
    out = coronet("compress", "--resume", str(run_dir), cwd=broken_root)
    assert "results in" in out.stdout
    whole = load_file(str(_run_dirs(whole_root)[0] / "G_A.safetensors"))
    resumed = load_file(str(run_dir / "G_A.safetensors"))
    assert whole.keys() == resumed.keys()
    assert all((whole[k] == resumed[k]).all() for k in whole)
    steps = [json.loads(line)["step"] for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert len(steps) == len(set(steps)) and steps == sorted(steps)  # logged after the crash: once


def test_train_then_translate_a_folder(tmp_path):
    out = coronet("train", "--ngf", "4", "--load-size", "36", "--crop-size", "32", "--steps", "4",
                  "--set", "data.max_train_items=8", "--set", "model.ndf=8", cwd=tmp_path)
    run_dir = _run_dirs(tmp_path)[0]
    assert run_dir.name.endswith("pix2pix-edges2shapes-dense") and "results in" in out.stdout
    images = tmp_path / "inputs"
    images.mkdir()
    Image.new("RGB", (50, 40), (255, 255, 255)).save(images / "a.jpg")
    Image.new("L", (20, 20), 0).save(images / "b.png")
    coronet("translate", str(run_dir), str(images), str(tmp_path / "outputs"), cwd=tmp_path)
    written = sorted(p.name for p in (tmp_path / "outputs").iterdir())
    assert written == ["a.png", "b.png"]
    assert Image.open(tmp_path / "outputs" / "a.png").size == (32, 32)  # the training size


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_two_process_gloo_ddp_run_writes_once_and_agrees_on_pruning(tmp_path, model):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    extra = ["--model", "cyclegan", "--dataroot", "builtin:shapes2stripes"] if model == "cyclegan" else []
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "coronet.cli.main", "compress", *TINY, *extra],
        cwd=tmp_path, text=True, capture_output=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = _run_dirs(tmp_path)
    assert len(runs) == 1
    report = json.loads((runs[0] / "report.json").read_text())
    for g in report["generators"].values():
        assert 0.98 * 0.3 <= g["achieved_ratio"] <= 0.3 and g["export_max_abs_diff"] <= 1e-5
    assert result.stdout.count("results in") == 1
    steps = [json.loads(line)["step"] for line in (runs[0] / "log.jsonl").read_text().splitlines()]
    assert len(steps) == len(set(steps))  # one writer


def _painted_right(output, target) -> float:
    """The share of a target's shape pixels (saturated ones) whose strongest colour channel the output
    gets right: red discs, blue boxes, green triangles painted as such."""
    out, tgt = output.float(), target.float()
    shape = (tgt.max(0).values - tgt.min(0).values) > 0.5  # in [-1, 1]: coloured, not the grey background
    return float((out.argmax(0) == tgt.argmax(0))[shape].float().mean())


@pytest.mark.slow
def test_compress_with_no_arguments_runs_the_quickstart(tmp_path):
    """The README's promise, literally: `coronet compress` with no arguments (several minutes) gives a
    compressed generator that paints the four sample drawings in their shapes' colours."""
    import torch

    from coronet.data import BuiltinDataset, TransformConfig
    from coronet.models import load_generator

    out = coronet("compress", cwd=tmp_path)
    run_dir = _run_dirs(tmp_path)[0]
    report = json.loads((run_dir / "report.json").read_text())
    g = report["generators"]["G_A"]
    assert 0.98 * 0.25 <= g["achieved_ratio"] <= 0.25 and g["export_max_abs_diff"] <= 1e-5
    assert str(run_dir.relative_to(tmp_path)) in out.stdout
    test = BuiltinDataset("edges2shapes", "test", cfg=TransformConfig(64, 64, "resize", False))
    generator = load_generator(run_dir / "G_A.json")
    with torch.no_grad():
        right = [_painted_right(generator(test[i]["A"][None])[0], test[i]["B"]) for i in range(4)]
    assert sum(r >= 0.8 for r in right) >= 3, right
    assert Image.open(run_dir / "samples.png").size[0] >= 3 * 128
