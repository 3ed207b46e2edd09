"""Runs a user can break: divergence, settings out of range, flags a resume would ignore, signals,
full disks, edited checkpoints. Each case ends in one line and exit code 2 (130 when stopped on
request), or in a correct result; never a traceback, never an exported broken model, and a run
that failed before its first step leaves no folder behind."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from coronet.cli.main import main
from coronet.errors import NonFiniteError
from coronet.gan import Callback, health
from coronet.gan.health import Health, TrainingDiverged
from coronet.gan.trainer import Trainer
from coronet.models import get_generator, save_generator
from coronet.pruning import hypernetize, materialize
from coronet.runs import CHECKPOINT, RunDir
from test_hostile_inputs import _fails, _images, _snapshot
from test_training import tiny

TINY = ["--ngf", "4", "--crop-size", "32", "--load-size", "36", "--search-steps", "8", "--finetune-steps",
        "4", "--set", "data.max_train_items=12", "--set", "prune.min_channels=1", "--set", "model.ndf=8",
        "--set", "data.batch_size=2"]


def _compress(tmp_path: Path, *extra: str) -> list[str]:
    return ["compress", "--out", str(tmp_path / "runs"), *TINY, *extra]


def _no_run_folder(tmp_path: Path) -> bool:
    runs = tmp_path / "runs"
    return not runs.exists() or not any(runs.iterdir())


# ------------------------------------------------------------------ divergence
class Poison(Callback):
    """Makes one weight NaN after step `step`, as a diverging optimiser step would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, values):
        if trainer.step == self.step:
            with torch.no_grad():
                next(trainer.generators["G_A"].parameters()).fill_(float("nan"))


def test_a_diverged_run_stops_keeps_its_last_finite_checkpoint_and_exports_nothing(tmp_path):
    cfg = tiny(tmp_path, checkpoint_every=5)
    run_dir = tmp_path / "run"
    message = r"diverged at step 8 \(search\): \S+ is nan; the last finite checkpoint \(step 5\)"
    with pytest.raises(TrainingDiverged, match=message):
        Trainer(cfg, run_dir, callbacks=[Poison(7)]).run()
    state = torch.load(run_dir / CHECKPOINT, weights_only=True)
    assert state["step"] == 5
    assert all(torch.isfinite(v).all() for v in state["generators"]["G_A"]["state"].values()
               if v.is_floating_point())
    assert not (run_dir / "G_A.safetensors").exists() and not (run_dir / "searched").exists()


def test_a_run_that_diverges_in_the_command_is_one_line_and_exports_nothing(tmp_path, capsys, monkeypatch):
    step = torch.optim.Adam.step
    calls = {"n": 0}

    def diverging(self, *args, **kwargs):  # the optimiser's 7th step leaves NaN weights
        out = step(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 7:
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("nan"))
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", diverging)
    _fails(capsys, _compress(tmp_path), "training diverged at step", "nothing was exported", "train.lr")
    run_dir = next((tmp_path / "runs").iterdir())
    assert not (run_dir / "G_A.safetensors").exists() and not (run_dir / "report.json").exists()


def test_a_checkpoint_holding_infinities_is_refused_as_a_start(tmp_path, capsys):
    diverged = get_generator("resnet_9blocks", ngf=4)
    with torch.no_grad():
        diverged.model[1].weight[0, 0, 0, 0] = float("inf")
    torch.save(diverged.state_dict(), tmp_path / "latest_net_G.pth")
    _fails(capsys, _compress(tmp_path, "--init-from", str(tmp_path / "latest_net_G.pth")),
           "NaN or infinite values (model.1.weight)")
    assert _no_run_folder(tmp_path)


def test_non_finite_weights_are_never_saved_materialized_or_exported(tmp_path):
    g = get_generator("resnet_9blocks", ngf=4)
    with torch.no_grad():
        g.model[1].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(NonFiniteError, match="model.1.weight"):
        save_generator(g, tmp_path / "G")
    assert not (tmp_path / "G.safetensors").exists()
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=4))
    with torch.no_grad():
        next(iter(hyper.hyper_layers().values())).a.fill_(float("nan"))
    with pytest.raises(NonFiniteError):
        materialize(hyper)
    from coronet.deploy import export_onnx

    with pytest.raises(NonFiniteError, match="not exported"):
        export_onnx(g, tmp_path / "g.onnx", (32, 32), "fp32")
    assert not (tmp_path / "g.onnx").exists()


def test_an_export_whose_check_is_nan_fails():
    from coronet.deploy.onnx_export import check_export

    g = get_generator("resnet_9blocks", ngf=2).eval()
    with pytest.raises(NonFiniteError, match="failed its check"):
        check_export(g, Path("g.onnx"), "fp32", (16, 16), None, lambda images: np.full_like(images, np.nan))


def test_a_collapse_is_warned_of_once_in_the_log_and_the_report(tmp_path, monkeypatch):
    watch = Health()
    said = [watch.check(step, {"D": 0.0, "G": 1.0}) for step in range(1, 2 * health.COLLAPSE_STEPS)]
    assert sum(s is not None for s in said) == 1 and "discriminator" in said[health.COLLAPSE_STEPS - 1]
    exploding = Health()
    said = [exploding.check(step, {"D": 0.5, "G": 1.0 if step <= 20 else 1e6}) for step in range(1, 100)]
    assert sum(s is not None for s in said) == 1 and "generator" in next(s for s in said if s)
    with pytest.raises(TrainingDiverged, match="G is nan"):
        Health().check(1, {"G": float("nan")})
    monkeypatch.setattr(health, "COLLAPSE_STEPS", 3)
    monkeypatch.setattr(health, "D_AT_ZERO", 1e9)  # every discriminator loss counts as zero here
    assert main(_compress(tmp_path)) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    assert len(report["warnings"]) == 1 and "collapsed" in report["warnings"][0]
    assert "**Warnings**" in (run_dir / "report.md").read_text()
    assert any("warning" in json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines())


def test_report_json_stays_strict_json(tmp_path):
    run = RunDir(tmp_path)
    run.write_json("report.json", {"psnr": float("nan"), "rows": [float("inf"), 1.5]})
    text = (tmp_path / "report.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == \
        {"psnr": None, "rows": [None, 1.5]}


# ------------------------------------------------------------------ settings and targets
@pytest.mark.parametrize(("setting", "needle"), [
    ("train.lr=-1", "train.lr must be in (0, 1]"), ("train.lr=nan", "train.lr"),
    ("train.lr=1e38", "train.lr"),
    ("train.beta1=5", "train.beta1"), ("train.seed=-1", "train.seed"),
    ("train.log_every=0", "train.log_every"),
    ("model.embedding_dim=0", "model.embedding_dim"), ("model.ndf=0", "model.ndf"),
    ("data.num_workers=-1", "data.num_workers"), ("data.max_train_items=-1", "data.max_train_items"),
    ("data.max_train_items=0", "data.max_train_items"), ("prune.tolerance=-1", "prune.tolerance"),
    ("prune.tolerance=5", "prune.tolerance"), ("prune.min_channels=0", "prune.min_channels"),
    ("prune.reach_fraction=0", "prune.reach_fraction"),
    ("prune.importance_decay=2", "prune.importance_decay"),
    ("prune.shrink=-1", "prune.shrink"), ("data.load_size=200000", "data.load_size"),
])
def test_a_setting_out_of_its_range_is_one_line_and_leaves_no_folder(tmp_path, capsys, setting, needle):
    _fails(capsys, _compress(tmp_path, "--set", setting), needle)
    _fails(capsys, _compress(tmp_path, "--set", setting, "--dry-run"), needle)
    assert _no_run_folder(tmp_path)


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-0.5", "-3e9"])
@pytest.mark.parametrize("dry", [True, False])
def test_impossible_targets_are_refused_before_a_folder_exists(tmp_path, capsys, value, dry):
    _fails(capsys, _compress(tmp_path, f"--target-macs={value}", *(["--dry-run"] if dry else [])),
           "--target-macs takes a share")
    assert _no_run_folder(tmp_path)


def test_the_dry_run_refuses_a_target_beyond_the_model(capsys):
    _fails(capsys, ["compress", "--dry-run", "--target-macs", "1e15"], "above the dense model")
    _fails(capsys, ["compress", "--dry-run", "--target-macs", "1e-9"], "below the smallest network")


@pytest.mark.parametrize(("device", "needle"), [("cuda", "no CUDA device"), ("bogus", "is not a device"),
                                                ("cuda:7", "CUDA")])
def test_a_device_this_machine_lacks_is_one_line(tmp_path, capsys, device, needle):
    if torch.cuda.is_available() and device.startswith("cuda"):
        pytest.skip("this machine has a CUDA device")
    _fails(capsys, _compress(tmp_path, "--device", device), needle)
    assert _no_run_folder(tmp_path)


def test_a_failure_in_the_first_step_leaves_no_folder(tmp_path, capsys, monkeypatch):
    def broken(self, batch):
        raise OSError(28, "No space left on device", "somewhere")

    monkeypatch.setattr(Trainer, "train_step", broken)
    _fails(capsys, _compress(tmp_path), "no space left")
    assert _no_run_folder(tmp_path)


def test_a_search_with_no_steps_still_lands_under_the_budget(tmp_path):
    assert main(_compress(tmp_path, "--search-steps", "0", "--target-macs", "0.5")) == 0
    report = json.loads((next((tmp_path / "runs").iterdir()) / "report.json").read_text())
    g = report["generators"]["G_A"]
    assert g["achieved_ratio"] <= 0.5 and g["forced_landing"]


def test_a_dataroot_that_is_a_file_says_so(tmp_path, capsys):
    (tmp_path / "data.txt").write_text("x")
    _fails(capsys, _compress(tmp_path, "--dataroot", str(tmp_path / "data.txt")), "is a file")


# ------------------------------------------------------------------ resume
@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A run interrupted after its first checkpoint (step 5)."""
    tmp = tmp_path_factory.mktemp("stopped")

    class Stop(Callback):
        def on_step_end(self, trainer, values):
            if trainer.step == 6:
                raise KeyboardInterrupt

    cfg = tiny(tmp, checkpoint_every=5)
    run_dir = tmp / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(cfg.to_json())
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, run_dir, callbacks=[Stop()]).run()
    return run_dir


@pytest.mark.parametrize("flag", [["--target-macs", "0.1"], ["--target-params", "0.1"], ["--seed", "3"],
                                  ["--search-steps", "9"], ["--finetune-steps", "9"], ["--batch-size", "3"],
                                  ["--crop-size", "16"], ["--direction", "BtoA"], ["--init-from", "x.pth"],
                                  ["--name", "other"], ["--out", "elsewhere"], ["--ngf", "8"]])
def test_resume_refuses_every_flag_it_would_not_honour(stopped, capsys, flag):
    before = _snapshot(stopped)
    _fails(capsys, ["compress", "--resume", str(stopped), *flag], flag[0], "cannot change there")
    assert _snapshot(stopped) == before


def test_a_resume_dry_run_prints_the_config_and_changes_nothing(stopped, capsys):
    before = _snapshot(stopped)
    capsys.readouterr()
    assert main(["compress", "--resume", str(stopped), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["prune"]["ratio"] == 0.3
    assert _snapshot(stopped) == before


def test_a_run_whose_data_moved_continues_from_its_new_place(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["data", "builtin", "edges2shapes", "--out", str(data), "--size", "36"]) == 0
    cfg = tiny(tmp_path, checkpoint_every=5).updated({"data.dataroot": str(data / "edges2shapes")})

    class Stop(Callback):
        def on_step_end(self, trainer, values):
            if trainer.step == 6:
                raise KeyboardInterrupt

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(cfg.to_json())
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, run_dir, callbacks=[Stop()]).run()
    shutil.move(data, tmp_path / "moved")
    _fails(capsys, ["compress", "--resume", str(run_dir)], "--resume RUN_DIR --dataroot NEW_FOLDER")
    new = tmp_path / "moved" / "edges2shapes"
    assert main(["compress", "--resume", str(run_dir), "--dataroot", str(new)]) == 0
    assert json.loads((run_dir / "config.json").read_text())["data"]["dataroot"] == str(new)
    assert (run_dir / "G_A.safetensors").is_file()


@pytest.mark.parametrize("edit", ["wrong shape", "missing key"])
def test_a_checkpoint_that_does_not_fit_its_run_is_one_line(stopped, tmp_path, capsys, edit):
    copy = tmp_path / "copy"
    shutil.copytree(stopped, copy)
    state = torch.load(copy / CHECKPOINT, weights_only=True)
    weights = state["generators"]["G_A"]["state"]
    key = next(iter(weights))
    if edit == "wrong shape":
        weights[key] = torch.zeros(3, 3)
    else:
        del weights[key]
    torch.save(state, copy / CHECKPOINT)
    _fails(capsys, ["compress", "--resume", str(copy)], "does not hold the state of the run")


class Anything:
    """An object of a class torch's weights-only loader does not know."""


def test_a_pickled_checkpoint_is_refused_in_coronets_own_words(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    torch.save({"format": "coronet-run", "x": Anything()}, tmp_path / "run" / CHECKPOINT)
    line = _fails(capsys, ["compress", "--resume", str(tmp_path / "run")], "Python objects besides tensors")
    assert "weights_only" not in line and "PyTorch 2.6" not in line and "add_safe_globals" not in line


# ------------------------------------------------------------------ signals and disks
def test_sigterm_checkpoints_at_a_step_and_the_run_resumes(tmp_path):
    args = [sys.executable, "-m", "coronet.cli.main", *_compress(tmp_path, "--search-steps", "400",
                                                                   "--finetune-steps", "2")]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline and not any((tmp_path / "runs").glob("*/log.jsonl")):
        time.sleep(0.5)
    time.sleep(3)  # some steps in
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "continue with `coronet compress --resume" in err
    run_dir = next((tmp_path / "runs").iterdir())
    step = torch.load(run_dir / CHECKPOINT, weights_only=True)["step"]
    assert step >= 1
    assert main(["compress", "--resume", str(run_dir), "--set", "train.compile=false"]) == 0


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_a_full_disk_at_a_checkpoint_is_one_line(tmp_path, capsys):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "200k"):
        pytest.skip("no small file system can be mounted here (needs root and mount)")
    try:
        _fails(capsys, ["compress", "--out", str(disk / "runs"), *TINY, "--set", "train.checkpoint_every=3"],
               "no space left on the disk", "checkpoint-latest.pt")
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_full_disk_at_the_export_is_one_line(tmp_path, capsys, monkeypatch):
    """safetensors reports a full disk in an error of its own (this is its message)."""
    import safetensors.torch

    def full(tensors, filename, metadata=None):
        raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    _fails(capsys, _compress(tmp_path), "no space left on the disk", ".safetensors")


# ------------------------------------------------------------------ sizes and outputs
def test_absurd_sizes_are_one_line(tmp_path, capsys):
    g = get_generator("resnet_9blocks", ngf=2)
    save_generator(g, tmp_path / "g" / "G_A", extra={"input_size": 200000})
    inputs = _images(tmp_path / "in", ["a.png"])
    _fails(capsys, ["translate", str(tmp_path / "g" / "G_A.json"), str(inputs), str(tmp_path / "out")],
           "input_size 200000")
    save_generator(g, tmp_path / "h" / "G_A")
    _fails(capsys, ["translate", str(tmp_path / "h" / "G_A.json"), str(inputs), str(tmp_path / "out"),
                    "--size", "100000"], "larger than the 8192")


def test_translate_never_overwrites_a_file_it_did_not_write(tmp_path, capsys):
    g = get_generator("resnet_9blocks", ngf=2)
    save_generator(g, tmp_path / "g" / "G_A", extra={"input_size": 32})
    folder = _images(tmp_path / "dir", ["ok.png", "sub/ok.png"])
    before = _snapshot(folder)
    _fails(capsys, ["translate", str(tmp_path / "g" / "G_A.json"), str(folder / "sub"), str(folder)],
           "ok.png already exists")
    assert _snapshot(folder) == before
    out = tmp_path / "out"
    assert main(["translate", str(tmp_path / "g" / "G_A.json"), str(folder / "sub"), str(out)]) == 0
    _fails(capsys, ["translate", str(tmp_path / "g" / "G_A.json"), str(folder / "sub"), str(out)],
           "already exists")


def test_list_options_do_not_swallow_the_run_folder(tmp_path, capsys):
    save_generator(get_generator("resnet_9blocks", ngf=2), tmp_path / "G_A", extra={"input_size": 32})
    g = str(tmp_path / "G_A.json")
    images = _images(tmp_path / "images", ["a.png", "b.png"])
    assert main(["export", "--dtype", "fp32", "fp16", g, "--images", str(images)]) == 0
    assert (tmp_path / "onnx" / "G_A.fp16.onnx").is_file()
    assert main(["bench", "--backends", "torch", "onnxruntime-fp32", g, "--runs", "1", "--warmup", "0"]) == 0
    assert main(["eval", "--no-fid", "--dataroot", "builtin:edges2shapes", "--model", "pix2pix",
                 "--generator", "G_A", g]) == 0
    _fails(capsys, ["export", "--dtype", "fp32", "fp99", g], "--dtype takes fp32, fp16, int8 (got fp99)")


def test_every_help_shows_its_defaults(capsys):
    for command in ("compress", "train", "eval", "export", "bench", "translate", "profile", "data"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "RUN_DIR" in out or command in ("profile", "data")
        if command in ("compress", "eval", "export", "bench", "profile"):
            assert "default: " in out, command
    with pytest.raises(SystemExit):
        main(["compress", "--help"])
    assert "[0.98, 1.00]" in capsys.readouterr().out


def test_values_in_the_bounds_table_are_finite_and_their_defaults_inside():
    from coronet.config import BOUNDS, RunConfig

    cfg = RunConfig().to_dict()
    for key, bound in BOUNDS.items():
        section, field = key.split(".")
        value = cfg[section][field]
        assert value is None or bound.admits(value), key
        assert not bound.admits(math.inf) and not bound.admits(math.nan)
