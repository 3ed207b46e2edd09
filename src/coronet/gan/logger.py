"""Run logs: TensorBoard event files and a JSON-lines log with the same scalars (rank 0 only).

A resumed run continues from its checkpoint's step, so whatever was logged after that checkpoint
(before the crash) is dropped from both logs first: every step appears once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from coronet.files import atomic_write

LOG = "log.jsonl"  # in the run folder


class RunLogger:
    def __init__(self, run_dir: Path, enabled: bool = True, resumed_at: int = 0) -> None:
        self.enabled = enabled
        self.jsonl = run_dir / LOG
        self._tb = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            if self.jsonl.is_file():
                _keep_up_to(self.jsonl, resumed_at)
            self._tb = SummaryWriter(str(run_dir / "tensorboard"),
                                     purge_step=resumed_at + 1 if resumed_at else None)

    def scalars(self, step: int, values: dict[str, float], phase: str) -> None:
        if not self.enabled:
            return
        for key, value in values.items():
            self._tb.add_scalar(key, value, step)
        record = {"step": step, "phase": phase, "time": time.time(), **values}
        with self.jsonl.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def note(self, step: int, text: str) -> None:
        """A line for a person (a warning) in both logs."""
        if not self.enabled:
            return
        self._tb.add_text("warnings", text, step)
        with self.jsonl.open("a") as f:
            f.write(json.dumps({"step": step, "time": time.time(), "warning": text}) + "\n")

    def image(self, step: int, tag: str, grid_hwc: np.ndarray) -> None:
        if self.enabled:
            self._tb.add_image(tag, grid_hwc, step, dataformats="HWC")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()


def _keep_up_to(path: Path, step: int) -> None:
    """Drop the records after `step` and a last line that a crash cut short."""
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("step", 0) <= step:
            kept.append(line)
    atomic_write(path, lambda tmp: tmp.write_text("".join(k + "\n" for k in kept)))
