"""File helpers shared by every writer and reader: atomic writes and weights-only loading."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from coronet.errors import CheckpointError


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, so a crash never leaves half a file; the
    file gets the permissions the user's umask gives new files (mkstemp's are 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_weights_only(path: Path, what: str, missing: str) -> Any:
    """`torch.load(..., weights_only=True)` with one clear error for a missing or unreadable file."""
    if not path.is_file():
        raise CheckpointError(missing)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        reason = _unpickling_reason(str(exc)) or type(exc).__name__
        if "global" in reason.lower():  # torch's own advice (weights_only=False) would run the payload
            raise CheckpointError(
                f"{path} holds Python objects besides tensors ({reason}); coronet loads weights only "
                f"and refuses it, since unpickling it could run code. Save just the state dict "
                f"(torch.save(model.state_dict(), ...)) from a source you trust") from None
        raise CheckpointError(f"{path} is not a readable {what} ({reason})") from None


def _unpickling_reason(text: str) -> str:
    """The line of torch's weights-only refusal that says what it met, without its advice to load
    with `weights_only=False` (which would execute whatever the file holds)."""
    for line in text.splitlines():
        line = line.removeprefix("WeightsUnpickler error:").strip()
        if line and not line.startswith(("Weights only load failed", "Check the documentation")):
            return line
    return ""
