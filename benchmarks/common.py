"""What every benchmark shares: the environment a result records, result files written atomically,
and the statistics and markdown of the tables in docs/results.md (each benchmark renders its own,
from its committed JSON, into `results/<table>.md`)."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from scipy import stats

from coronet.files import atomic_write

RESULTS = Path(__file__).parent / "results"
MINUS = "\u2212"
DIGITS = {"psnr": 2, "ssim": 3, "l1": 4}
METRICS = tuple(DIGITS)  # the paired metrics of a Pix2Pix table
Tables = dict[str, Callable[[], list[str]]]  # table name -> its lines, rendered from committed JSON
LOADED: set[str] = set()  # every result file a table read (the results folder holds no others)


def source_commit() -> str | None:
    """The checkout's commit ("-dirty" when tracked files differ from it): a result is tied to the
    code that made it, which the package version is not. None outside a git checkout."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                              cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


# read once, when the benchmark starts: a run takes an hour and commits made meanwhile did not run
COMMIT = source_commit()


def environment() -> dict:
    try:
        installed = version("coronet")
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH
        installed = "not installed"
    return {
        "device": "cuda:" + torch.cuda.get_device_name() if torch.cuda.is_available() else
        f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "coronet": installed,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # a device's copy of the tree may carry a stale .git: the caller names the commit it sent
        "commit": os.environ.get("SOURCE_COMMIT") or COMMIT,
    }


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_result(path: Path, result: dict, tables: Tables | None = None) -> None:
    """The result's JSON and, when it is a committed result, the tables that read it."""
    write_text(path, json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    if tables and path.resolve().parent == RESULTS.resolve():
        write_tables(tables)


def write_tables(tables: Tables) -> None:
    """Each table beside the JSON it reads, as `results/<name>.md` (results_doc.py inserts them)."""
    for name, render in tables.items():
        write_text(RESULTS / f"{name}.md", "\n".join(render()) + "\n")
        print(f"wrote {RESULTS / name}.md")


# ----------------------------------------------------------------------------- reading results
def load(name: str) -> dict:
    LOADED.add(name)
    return json.loads((RESULTS / name).read_text())


def seed_files(stem: str) -> list[str]:
    """`stem.json` (seed 0), every `stem_seedN.json` and `stem_seedN_LABEL.json` (rows a later call
    added to seed N), in seed order."""
    found = [p.name for p in RESULTS.glob(f"{stem}*.json")
             if re.fullmatch(re.escape(stem) + r"(_seed\d+(_[\w.]+)?)?\.json", p.name)]
    return sorted(found, key=lambda name: (seed_of(name), name))


def seed_of(name: str) -> int:
    m = re.search(r"_seed(\d+)(_[\w.]+)?\.json$", name)
    return int(m.group(1)) if m else 0


def commit_of(name: str) -> str:
    commit = load(name)["environment"]["commit"]
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")


def source(*names: str) -> str:
    """"`a.json`, `b.json` (commit), `c.json` (commit)": each file with the commit its run started
    from, files of one commit in a row sharing it."""
    groups: list[tuple[str, list[str]]] = []
    for n in names:
        if groups and groups[-1][0] == commit_of(n):
            groups[-1][1].append(n)
        else:
            groups.append((commit_of(n), [n]))
    return ", ".join(", ".join(f"`{n}`" for n in group) + f" ({commit})" for commit, group in groups)


def seed_source(stem: str) -> str:
    """"`stem*.json` (7 files; commits a, b)": the seed files of one measurement by their pattern,
    which reads shorter than their names once a measurement has many seeds."""
    names = seed_files(stem)
    commits = sorted({commit_of(n) for n in names})
    plural = "s" if len(commits) > 1 else ""
    files = f"{len(names)} file{'s' if len(names) != 1 else ''}"
    return f"`{stem}*.json` ({files}; commit{plural} {', '.join(commits)})"


# ----------------------------------------------------------------------------- statistics
def paired_difference(differences: list[float]) -> dict:
    """Mean and standard error of per-seed differences, and the two-sided p of a zero mean: Student's
    paired t and, because a few seeds say little about normality, Wilcoxon's signed rank."""
    spread = statistics.stdev(differences)
    if spread == 0:  # all equal (e.g. a variant against itself): the tests are undefined
        p_t = p_wilcoxon = 1.0 if differences[0] == 0 else None
    else:
        p_t = float(stats.ttest_1samp(differences, 0.0).pvalue)
        p_wilcoxon = float(stats.wilcoxon(differences).pvalue)
    return {"mean": statistics.mean(differences), "stderr": spread / len(differences) ** 0.5,
            "p_t": p_t, "p_wilcoxon": p_wilcoxon, "per_seed": differences}


def p_value(difference: dict) -> str:
    """The signed-rank p as printed: three decimals below 0.1, two above, "n/a" where undefined."""
    p = difference["p_wilcoxon"]
    return "n/a" if p is None else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


# ----------------------------------------------------------------------------- markdown
def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", MINUS)


def cell(difference: dict, metric: str) -> str:
    """'mean ± s.e. (p P)': a paired difference over seeds, Wilcoxon's signed-rank p."""
    d = DIGITS[metric]
    return f"{signed(difference['mean'], d)} ± {difference['stderr']:.{d}f} (p {p_value(difference)})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows]
