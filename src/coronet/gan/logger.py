"""Run logs: TensorBoard event files and a JSON-lines log with the same scalars (rank 0 only)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


class RunLogger:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.jsonl = run_dir / "log.jsonl"
        self._tb = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def scalars(self, step: int, values: dict[str, float], phase: str) -> None:
        if not self.enabled:
            return
        for key, value in values.items():
            self._tb.add_scalar(key, value, step)
        record = {"step": step, "phase": phase, "time": time.time(), **values}
        with self.jsonl.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def image(self, step: int, tag: str, grid_hwc: np.ndarray) -> None:
        if self.enabled:
            self._tb.add_image(tag, grid_hwc, step, dataformats="HWC")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
