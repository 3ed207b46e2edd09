"""The run folder as commands share it: merged report sections, report.md after every command, the
writer's lock, leftover temporaries, logs after a resume, permissions, atomic failure."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path

import pytest
import torch

from coronet.cli.main import main
from coronet.files import atomic_write
from coronet.gan.logger import RunLogger
from coronet.gan.trainer import Trainer
from coronet.runs import REPORT, TEMPORARY, RunDir
from test_eval_bench import _finished_run as _finished
from test_training import tiny


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return _finished(tmp_path_factory.mktemp("finished"))


def _error_lines(err: str) -> list[str]:
    """What the command said besides its progress bars (which tqdm draws on stderr)."""
    assert "Traceback" not in err
    return [line for line in err.replace("\r", "\n").splitlines() if line.startswith("coronet ")
            and ": error: " in line]


def _sections(run_dir: Path) -> dict[str, str]:
    report = json.loads((run_dir / REPORT).read_text())
    return {k: json.dumps(v, sort_keys=True) for k, v in report.items()}


def test_commands_add_their_sections_and_resuming_a_finished_run_keeps_them(tmp_path, capsys):
    run_dir = _finished(tmp_path)
    assert main(["eval", str(run_dir), "--no-fid"]) == 0
    assert main(["bench", str(run_dir), "--runs", "2", "--warmup", "0", "--backends", "torch"]) == 0
    before = _sections(run_dir)
    assert {"evaluation", "latency"} <= set(before)
    markdown = (run_dir / "report.md").read_text()
    assert "## Evaluation (`coronet eval`)" in markdown and "## Latency (`coronet bench`)" in markdown
    capsys.readouterr()
    assert main(["compress", "--resume", str(run_dir)]) == 0
    after = _sections(run_dir)
    assert after == before  # nothing recomputed differs, and no command's section is dropped
    assert "## Evaluation" in (run_dir / "report.md").read_text()


def test_a_second_writer_is_refused_with_one_line(finished, capsys):
    with RunDir(finished).writing("export"):
        assert main(["eval", str(finished), "--no-fid"]) == 2
    err = _error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "being written by another coronet command (export (pid" in err[0]
    assert main(["eval", str(finished), "--no-fid"]) == 0  # the lock went with its holder


def test_temporaries_of_interrupted_writes_are_removed_and_user_files_kept(finished):
    leftovers = [finished / "report.json.k3j_x9a1.tmp", finished / "searched" / "G_A.json.abcdef12.tmp"]
    for path in leftovers:
        path.write_text("half")
    (finished / "notes.tmp").write_text("mine")
    assert main(["eval", str(finished), "--no-fid"]) == 0
    assert not any(p.exists() for p in leftovers)
    assert (finished / "notes.tmp").read_text() == "mine"


def test_a_failed_write_leaves_the_previous_report_and_no_temporary(finished, monkeypatch, capsys):
    before = (finished / REPORT).read_bytes()

    def full_disk(path: Path, text: str, *args, **kwargs) -> int:
        Path.write_bytes(path, text[: len(text) // 2].encode())
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Path, "write_text", full_disk)
    assert main(["eval", str(finished), "--no-fid"]) == 2
    monkeypatch.undo()
    err = _error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "no space left" in err[0] and "Traceback" not in err[0]
    assert (finished / REPORT).read_bytes() == before
    assert not [p for p in finished.iterdir() if TEMPORARY.match(p.name)]


def test_an_unwritable_folder_is_one_line(finished, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(finished / "x.tmp"))

    monkeypatch.setattr("coronet.files.tempfile.mkstemp", refuse)
    before = (finished / REPORT).read_bytes()
    assert main(["eval", str(finished), "--no-fid"]) == 2
    err = _error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "cannot write" in err[0] and "choose a folder you can write to" in err[0]
    assert (finished / REPORT).read_bytes() == before


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.json", lambda tmp: tmp.write_text("{}"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o666 & ~umask


def test_runs_started_at_once_with_one_name_get_their_own_folders(tmp_path):
    made: list[Path] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        made.append(RunDir.create(tmp_path, "same name").path)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in made) == [f"0000{i}-same_name" for i in range(4)]


def test_a_resumed_log_has_every_step_once(tmp_path):
    logger = RunLogger(tmp_path)
    for step in range(1, 11):
        logger.scalars(step, {"loss": float(step)}, "search")
    logger.close()
    with (tmp_path / "log.jsonl").open("a") as f:
        f.write('{"step": 11, "pha')  # the crash cut this line short
    logger = RunLogger(tmp_path, resumed_at=6)  # the checkpoint was at step 6
    for step in range(7, 13):
        logger.scalars(step, {"loss": float(step)}, "search")
    logger.close()
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))


def test_forced_landing_is_shown_in_the_report(tmp_path):
    run_dir = _finished(tmp_path, search=1)
    report = json.loads((run_dir / REPORT).read_text())
    assert report["generators"]["G_A"]["forced_landing"] is True
    markdown = (run_dir / "report.md").read_text()
    assert "| forced |" in markdown and "A forced landing" in markdown


def test_cyclegan_samples_are_labelled_as_what_they_show(tmp_path):
    run_dir = _finished(tmp_path, model="cyclegan", search=2)
    markdown = (run_dir / "report.md").read_text()
    assert "## Samples (input | translated | translated back by the other generator)" in markdown


def test_the_cyclegan_grid_shows_the_cycle(tmp_path):
    from coronet.data import to_uint8

    trainer = Trainer(tiny(tmp_path, model="cyclegan"), tmp_path / "run", compress=True)
    grid = trainer.sample_grid()
    x = trainer.sample_batch["A"]
    g_a, g_b = trainer.generators["G_A"].eval(), trainer.generators["G_B"].eval()
    with torch.no_grad():
        back = g_b(g_a(x))
    h = x.shape[-1]
    assert (grid[:h, 2 * h:] == to_uint8(back[0])).all()


def test_kill_during_export_or_eval_leaves_a_whole_report(tmp_path):
    """SIGKILL at moments spread over the commands' run: the report is always the old one or the
    new one, whole; the next command clears what the killed one left."""
    import signal
    import subprocess
    import sys
    import time

    run_dir = _finished(tmp_path)
    before = _sections(run_dir)
    commands = [["export", str(run_dir), "--dtype", "fp32", "int8", "--calibration-images", "4"],
                ["eval", str(run_dir), "--no-fid"]]
    for delay in (0.5, 2.0, 3.5, 5.0, 7.0):
        for command in commands:
            proc = subprocess.Popen([sys.executable, "-m", "coronet.cli.main", *command],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            after = _sections(run_dir)  # parses: never half a file
            assert {k: v for k, v in after.items() if k in before} == before
    assert main(["eval", str(run_dir), "--no-fid"]) == 0
    assert not [p for p in run_dir.rglob("*") if TEMPORARY.match(p.name)]


def test_resume_may_skip_images_that_broke_after_the_start(tmp_path):
    run_dir = _finished(tmp_path)
    assert main(["compress", "--resume", str(run_dir), "--set", "data.skip_bad_images=true"]) == 0
    assert json.loads((run_dir / REPORT).read_text())["config"]["data"]["skip_bad_images"] is True
