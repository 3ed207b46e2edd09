"""File helpers shared by every writer and reader: atomic writes and weights-only loading."""

from __future__ import annotations

import errno
import os
import shutil
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
        try:
            write(Path(tmp))
        except OSError:
            raise
        except Exception as exc:  # torch and safetensors report a full disk in errors of their own
            if _disk_full(path.parent, exc):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
            raise
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _disk_full(folder: Path, exc: Exception) -> bool:
    """Whether a failed write failed for want of space (its message says so, or the disk is full)."""
    if "No space left" in str(exc):
        return True
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


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
    """What torch's weights-only refusal met (e.g. "Unsupported global: GLOBAL __main__.P"), without
    its advice to load with `weights_only=False` (which would execute whatever the file holds) or to
    allow-list the class."""
    for line in text.splitlines():
        line = line.strip()
        if "WeightsUnpickler error:" in line:
            line = line.split("WeightsUnpickler error:", 1)[1].strip()
            return line.split(" was not an allowed global")[0].split(". Please")[0].strip()
        if "GLOBAL" in line:  # e.g. "Trying to load unsupported GLOBAL posix.system whose module ..."
            return line.rstrip(".")
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    advice = ("weights_only", "Weights only load failed", "trust", "torch.load")
    return "" if any(a in first for a in advice) else first
