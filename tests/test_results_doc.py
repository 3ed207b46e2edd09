"""docs/results.md is the committed benchmark JSON, rendered: no figure in its tables is typed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import common
import latency
import results_doc

ROOT = Path(__file__).resolve().parents[1]


def test_every_table_beside_its_json_and_in_the_document_is_its_rendering():
    text, tables = results_doc.DOC.read_text(), results_doc.rendered()
    assert sorted(m[1] for m in results_doc.BLOCK.findall(text)) == sorted(tables)  # each shown once
    for name, lines in tables.items():
        assert (common.RESULTS / f"{name}.md").read_text() == lines, f"{name}.md: run results_doc.py"
    assert results_doc.insert(text, tables) == text, "run `python benchmarks/results_doc.py`, commit the page"


def test_the_results_folder_holds_exactly_what_the_tables_read_and_write():
    common.LOADED.clear()
    tables = results_doc.rendered()
    present = {p.name for p in common.RESULTS.iterdir()}
    expected = common.LOADED | {f"{name}.md" for name in tables}
    assert present == expected, f"unread: {sorted(present - expected)}; missing: {sorted(expected - present)}"


def test_a_table_changes_when_its_json_does(tmp_path, monkeypatch):
    """The check is not vacuous: a changed figure in the JSON makes the table stale."""
    for name in ("latency.json", "compress_edges2shoes_ngf64.json"):
        data = json.loads((common.RESULTS / name).read_text())
        if name == "latency.json":
            data["models"]["coronet@0.1"]["speedup_vs_dense"]["onnx_fp32"] = 1.0
        (tmp_path / name).write_text(json.dumps(data))
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    rendered = "\n".join(latency.TABLES["latency"]())
    last_onnx_row = [line for line in rendered.splitlines() if "ONNX Runtime" in line][-1]
    assert re.search(r"\| ONNX Runtime \| \d+ ms \(1\.00×\)", last_onnx_row)
    assert rendered not in results_doc.DOC.read_text()


def test_the_readme_headline_is_the_latency_result():
    models = json.loads((common.RESULTS / "latency.json").read_text())["models"]
    readme = (ROOT / "README.md").read_text()
    for target in ("0.25", "0.1"):
        speedup = models[f"coronet@{target}"]["speedup_vs_dense"]["onnx_fp32"]
        assert f"{speedup:.2f}×" in readme
    assert re.search(r"\d\.\d\d× faster", readme)
