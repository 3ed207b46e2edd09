"""docs/results.md is the committed benchmark JSON, rendered: no figure in its tables is typed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import results_doc

ROOT = Path(__file__).resolve().parents[1]


def test_every_generated_table_matches_its_json():
    text = results_doc.DOC.read_text()
    assert len(results_doc.BLOCK.findall(text)) == len(results_doc.TABLES)  # each table shown once
    assert results_doc.render(text) == text, "run `python benchmarks/results_doc.py`, commit the document"


def test_the_results_folder_holds_exactly_the_files_the_document_cites():
    cited = results_doc.cited_files(results_doc.DOC.read_text())
    present = {p.name for p in results_doc.RESULTS.iterdir()}
    assert cited == present, f"uncited: {sorted(present - cited)}; missing: {sorted(cited - present)}"


def test_a_table_changes_when_its_json_does(tmp_path, monkeypatch):
    """The check is not vacuous: a changed figure in the JSON makes the document stale."""
    for name in ("latency.json",):
        data = json.loads((results_doc.RESULTS / name).read_text())
        data["models"]["coronet@0.1"]["speedup_vs_dense"]["onnx_fp32"] = 1.0
        (tmp_path / name).write_text(json.dumps(data))
    monkeypatch.setattr(results_doc, "RESULTS", tmp_path)
    text = results_doc.DOC.read_text()
    rendered = "\n".join(results_doc.latency())
    last_onnx_row = [line for line in rendered.splitlines() if "ONNX Runtime" in line][-1]
    assert re.search(r"\| ONNX Runtime \| \d+ ms \(1\.00×\)", last_onnx_row) and rendered not in text


def test_the_readme_headline_is_the_latency_result():
    models = json.loads((results_doc.RESULTS / "latency.json").read_text())["models"]
    readme = (ROOT / "README.md").read_text()
    for target in ("0.25", "0.1"):
        speedup = models[f"coronet@{target}"]["speedup_vs_dense"]["onnx_fp32"]
        assert f"{speedup:.2f}×" in readme
    assert re.search(r"\d\.\d\d× faster", readme)
