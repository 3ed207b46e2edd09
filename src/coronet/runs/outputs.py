"""What a finished run leaves in its folder: the exported generators, report.json/report.md and
the pictures (rank 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coronet.eval.report import build_report, write_pictures
from coronet.gan.summary import RunSummary
from coronet.models import save_generator
from coronet.runs.folder import RunDir


def write_run_outputs(summary: RunSummary, run_dir: Path, test_set=None) -> dict[str, Any]:
    """Export the final generators, write the report and the pictures; returns report.json.
    `test_set`: the paired test split that Pix2Pix runs are scored on (none for CycleGAN)."""
    report = build_report(summary, test_set)
    cfg = summary.config
    for name, run_g in summary.generators.items():
        g = run_g.generator
        device = next(g.parameters()).device
        extra = {"input_size": cfg.data.crop_size, "direction": "BtoA" if name == "G_B" else "AtoB",
                 "model": cfg.train.model}
        weights = save_generator(g.eval().cpu(), run_dir / name, extra=extra)
        g.to(device).train()
        report["exported"][name] = [weights.name, weights.with_suffix(".json").name]
    write_pictures(summary, report, run_dir)
    # the sections `eval`, `export` and `bench` added stay; resuming a finished run recomputes the rest
    return RunDir(run_dir).update_report(report)
