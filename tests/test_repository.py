"""The repository's shape: imports go one way, every module is reachable, docs point only at files
that exist, and every config field is documented."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from coronet.config import field_names

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "coronet"
LAYERS = ["data", "models", "pruning", "gan", "eval", "runs", "deploy", "cli"]  # each imports only leftwards
BASE = {"config", "errors", "files", "registry"}  # shared by every layer; they import only each other


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The coronet modules a file imports anywhere in it (function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in known and name.startswith("coronet"):
                out.add(name)
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_imports_go_one_way():
    known = modules()
    wrong = []
    for module, path in known.items():
        if module == "coronet":
            continue  # the public API gathers from every layer
        mine = layer(module)
        for target in imports(path, known):
            theirs = layer(target)
            if theirs == "" or theirs == mine:
                continue
            if mine in BASE:
                ok = theirs in BASE
            else:
                ok = theirs in BASE or LAYERS.index(theirs) <= LAYERS.index(mine)
            if not ok:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the data flow: " + ", ".join(sorted(wrong))


def test_every_module_is_reachable_from_the_cli_or_the_public_api():
    known = modules()
    seen, todo = set(), ["coronet", "coronet.cli.main"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parent = module.rpartition(".")[0]
        todo += [parent] if parent else []  # importing a module runs its package's __init__
        todo += sorted(imports(known[module], known))
    assert set(known) - seen == set()


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / f for f in listed.stdout.splitlines()
            if f.endswith((".py", ".md", ".yaml", ".toml", ".txt")) or f == ".ci/run"]


def test_no_file_points_at_a_file_outside_the_repository():
    outside = re.compile(r"anchors\.md|dhp-notes\.md|dhp\.md|style\.md|shared/reference|(?<![\w/])method\.md")
    path_like = re.compile(r"(?<![\w:/.-])((?:docs|benchmarks|tests|src)/[\w./-]+\.(?:md|py|json|yaml|png))")
    bad = []
    for f in tracked_text_files():
        if f == Path(__file__):
            continue  # this test names the patterns it looks for
        text = f.read_text(errors="replace")
        for m in outside.finditer(text):
            bad.append(f"{f.relative_to(ROOT)}: {m.group(0)}")
        for m in path_like.finditer(text):
            target = m.group(1).rstrip(".")
            if "*" not in target and "[" not in target and not (ROOT / target).exists():
                bad.append(f"{f.relative_to(ROOT)}: {target}")
    assert not bad, "references to files that are not in the repository: " + "; ".join(bad)


def test_every_config_field_is_documented_in_the_usage_guide():
    usage = (ROOT / "docs" / "usage.md").read_text()
    missing = [key for key in field_names() if f"`{key}`" not in usage]
    assert not missing, f"docs/usage.md does not describe: {', '.join(missing)}"


def test_readme_is_a_users_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024
    for must in ("pip install", "python -m pytest", "coronet compress", "--dataroot", "--device cuda",
                 "docs/usage.md", "docs/method.md", "docs/results.md", "docs/development.md"):
        assert must in readme, must
