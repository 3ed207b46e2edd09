"""Helpers shared by the benchmarks: environment description and JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch


def environment() -> dict:
    return {
        "device": "cuda:" + torch.cuda.get_device_name() if torch.cuda.is_available() else
        f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "coronet": _installed_version("coronet"),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # a device's copy of the tree may carry a stale .git: the caller names the commit it sent
        "commit": os.environ.get("SOURCE_COMMIT") or COMMIT,
    }


def _installed_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH
        return "not installed"


def source_commit() -> str | None:
    """The checkout's commit ("-dirty" when tracked files differ from it), so that a result can be
    tied to the code that made it; the package version does not change between commits. None outside
    a git checkout."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                              cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


# read once, when the benchmark starts: a run takes an hour and commits made meanwhile did not run
COMMIT = source_commit()


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"median_s": statistics.median(ordered),
            "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "min_s": ordered[0], "runs": len(ordered)}


def write_result(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


def rss_bytes() -> int:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
