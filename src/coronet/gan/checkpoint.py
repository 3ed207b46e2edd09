"""Self-describing checkpoints, written atomically and read with `weights_only=True`.

A crash while saving leaves the previous checkpoint intact: the file is written to a temporary
name in the same folder and moved into place in one `os.replace`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from coronet.errors import CheckpointError
from coronet.files import atomic_write, load_weights_only

CHECKPOINT = "checkpoint-latest.pt"  # in the run folder
FORMAT = "coronet-run"
FORMAT_VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, "format_version": FORMAT_VERSION,
                                               **state}, tmp))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    state = load_weights_only(path, "coronet checkpoint",
                              f"no checkpoint at {path}; nothing to resume (start without --resume)")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a coronet run checkpoint")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer coronet; upgrade to resume it")
    return state
