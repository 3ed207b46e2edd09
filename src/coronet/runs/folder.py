"""The run folder and its one owner: layout, atomic writes, report sections, the writer's lock.

Every command that reads or writes a run goes through `RunDir`, so `eval` never drops `export`'s
section of report.json, a crash never leaves half a file or a stray temporary behind for long, and
two commands never write one folder at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coronet.errors import CheckpointError, CoronetError
from coronet.files import atomic_write
from coronet.gan.checkpoint import CHECKPOINT
from coronet.gan.logger import LOG  # noqa: F401 - the run folder's layout, re-exported by coronet.runs

CONFIG = "config.json"
REPORT = "report.json"
REPORT_MD = "report.md"
LOCK = ".coronet.lock"
TEMPORARY = re.compile(r".+\.[A-Za-z0-9_]{6,}\.tmp$")  # atomic_write's names: NAME.XXXXXXXX.tmp


class RunBusyError(CoronetError):
    """Another coronet command is writing this run folder."""


class RunDir:
    """A run folder: `config.json`, `checkpoint-latest.pt`, `log.jsonl`, `report.json`/`report.md`,
    the exported generators (`G_A.json` + `.safetensors`), `searched/`, `onnx/`, `tensorboard/`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    # ---------------------------------------------------------------- finding and creating
    @classmethod
    def create(cls, out: str | Path, name: str) -> RunDir:
        """A fresh folder `out/NNNNN-name`, numbered after the highest there; never an existing one,
        even when another run is started with the same name at the same moment."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        while True:
            taken = [int(m.group(1)) for p in out.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
            path = out / f"{(max(taken) + 1 if taken else 0):05d}-{name}"
            try:
                path.mkdir()
            except FileExistsError:  # another process took this number first: take the next
                continue
            return cls(path)

    @classmethod
    def finished(cls, path: str | Path, command: str) -> RunDir:
        """A run folder with its report (training finished), or one line saying what it is not."""
        run = cls(path)
        if not run.path.is_dir():
            raise CheckpointError(f"no run folder at {run.path}")
        if not run.file(REPORT).is_file() or not run.file(CONFIG).is_file():
            hint = (f"; it has a checkpoint: finish it with `coronet compress --resume {run.path}`"
                    if run.file(CHECKPOINT).is_file() else "")
            raise CheckpointError(f"{run.path} is not a finished coronet run (no {REPORT}/{CONFIG}){hint}. "
                                  f"Give `coronet {command}` a run folder or an exported generator (.json)")
        return run

    # ---------------------------------------------------------------- reading and writing
    def read_json(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc}); restore it, or delete it and "
                                  f"rerun the command that writes it") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path} holds a JSON {type(data).__name__}, not an object")
        return data

    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Strict JSON: a NaN or infinite number is written as null (JSON has no such numbers)."""
        path = self.file(name)
        write_text_atomically(path, json.dumps(strict_json(data), indent=2, allow_nan=False) + "\n")
        return path

    def read_config(self):
        """The run's resolved configuration (config.json)."""
        from coronet.config import from_saved

        data = self.read_json(CONFIG)
        try:
            return from_saved(data)
        except CoronetError as exc:
            raise CheckpointError(f"{self.file(CONFIG)} does not hold a valid configuration ({exc}); "
                                  "restore the file the run wrote") from None

    def read_report(self) -> dict[str, Any]:
        return self.read_json(REPORT)

    def update_report(self, sections: dict[str, Any], keep_existing: bool = True) -> dict[str, Any]:
        """Merge top-level `sections` into report.json (every other section kept byte-for-byte)
        and rewrite report.md from the result."""
        report = self.read_report() if keep_existing and self.file(REPORT).is_file() else {}
        report.update(sections)
        self.write_json(REPORT, report)
        self.render_report(report)
        return report

    def render_report(self, report: dict[str, Any] | None = None) -> None:
        from coronet.runs.markdown import markdown

        write_text_atomically(self.file(REPORT_MD), markdown(report or self.read_report()))

    def discard(self) -> None:
        """Remove this folder and everything in it: only for one the current command created and that
        holds nothing a resume could use (it failed before its first step)."""
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)

    # ---------------------------------------------------------------- one writer at a time
    @contextlib.contextmanager
    def writing(self, command: str) -> Iterator[RunDir]:
        """Hold the folder's lock for `command` (refusing a second writer with one line) and clear
        the temporaries that an interrupted write left behind."""
        if not self.path.is_dir():
            raise CheckpointError(f"no run folder at {self.path}")
        with _exclusive(self.file(LOCK), f"{command} (pid {os.getpid()})") as holder:
            if holder is not None:
                raise RunBusyError(f"{self.path} is being written by another coronet command "
                                   f"({holder}); wait for it to finish, then run this again")
            self.remove_temporaries()
            yield self

    def remove_temporaries(self) -> list[Path]:
        """Delete `*.tmp` files of writes that never finished (the caller holds the lock)."""
        removed = []
        for root, _, files in os.walk(self.path):
            for f in files:
                if TEMPORARY.match(f):
                    path = Path(root) / f
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        removed.append(path)
        return removed


def exported_generators(run: RunDir) -> dict[str, Path]:
    """The run's exported generators by name (G_A, G_B), as its report lists them: the .json files."""
    exported = run.read_report().get("exported")
    if not isinstance(exported, dict) or not exported:
        raise CheckpointError(f"{run.file(REPORT)} lists no exported generators; finish the run with "
                              f"`coronet compress --resume {run.path}`")
    files = {}
    for name, names in exported.items():
        meta = next((run.file(n) for n in names if str(n).endswith(".json")), None)
        if meta is None or not meta.is_file():
            raise CheckpointError(f"{run.path} has no exported {name} (.json + .safetensors); rerun "
                                  f"`coronet compress --resume {run.path}` to write it again")
        files[name] = meta
    return files


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by None, in every nested list and dict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def write_text_atomically(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


@contextlib.contextmanager
def _exclusive(path: Path, who: str) -> Iterator[str | None]:
    """An advisory lock on `path` (released by the OS if the process dies); yields None when this
    process holds it, or the holder's description when another does."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; run as before
        yield None
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, who.encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
