"""Quality along one baselines.py row's schedule: is a row's final figure a point on a steady curve?

A baseline table scores each row once, at its last step. This retrains one row of a finished
baselines.py result exactly as it was trained (same seed, settings and step count; CPU training is
deterministic, so the last point must equal the committed figure, which is checked), keeps a copy of
the generators every --every steps and at the first fine-tune step, and scores every copy the same
way the table does (FD-rand for CycleGAN, PSNR / SSIM / L1 for Pix2Pix). The per-step losses are
kept beside them.

    python benchmarks/trajectory.py photo2monet --row coronet@0.25 --seed 4 --threads 1 \\
        --against benchmarks/results/baselines_photo2monet_seed4.json
    python benchmarks/trajectory.py photo2monet --row uniform@0.25 --seed 4 --threads 1 \\
        --against benchmarks/results/baselines_photo2monet_seed4.json

Writes benchmarks/results/trajectory_<dataset>_<method>[-<target>][_seed<N>].json.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from torch import nn

import baselines as B
from baselines_seeds import BETTER
from common import environment, write_result
from coronet.gan.trainer import Trainer
from variant import reference_rows

METHODS = ("coronet", "uniform", "dense")


class Recording(Trainer):
    """A Trainer that keeps CPU copies of its generators along the way and every step's losses."""

    every = 50

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.copies: dict[str, dict[str, nn.Module]] = {}
        self.losses: list[dict] = []

    def _after_step(self, values: dict[str, float]) -> None:
        super()._after_step(values)
        self.losses.append({"step": self.step, "phase": self.phase,
                            **{k[5:]: v for k, v in values.items() if k.startswith("loss/")}})
        if self.step % self.every == 0 or (self.phase == "finetune" and self.phase_step == 1):
            self.copies[f"{self.phase} step {self.step}"] = {
                n: copy.deepcopy(g).cpu().eval() for n, g in self.generators.items()}


def train_row(args, ref: dict) -> Recording:
    """The row as baselines.py trained it, through a Recording trainer."""
    method, ratio = ref["method"], ref.get("target")
    if method == "coronet":
        return B.train(B.config(args, ratio=ratio), compress=True, trainer_class=Recording)[0]
    cfg = B.config(args, steps=ref["steps"])
    gens = B.fresh_generators(args, cfg, B.uniform_row_widths(cfg, ratio)) if method == "uniform" else None
    return B.train(cfg, compress=False, generators=gens, trainer_class=Recording)[0]


def main() -> None:
    def more(p: argparse.ArgumentParser) -> None:
        p.add_argument("--against", type=Path, required=True, help="the finished baselines.py result")
        p.add_argument("--row", required=True,
                       help="its row to retrace, e.g. coronet@0.25, uniform@0.25, dense")
        p.add_argument("--every", type=int, default=50, help="steps between scored copies")

    args = B.arguments(__doc__, more=more)
    ref = next((r for r in reference_rows(args) if r["row"] == args.row), None)
    if ref is None or ref["method"] not in METHODS:
        raise SystemExit(f"{args.against} has no row {args.row!r} of a method this retraces "
                         f"({', '.join(METHODS)})")
    Recording.every = args.every
    trainer = train_row(args, ref)
    copies = {k: v for k, v in trainer.copies.items() if not k.endswith(f" step {trainer.step}")}
    copies[f"last, step {trainer.step}"] = {n: g.cpu().eval() for n, g in trainer.generators.items()}
    score = B.scorer(args)
    untranslated = score.untranslated() if isinstance(score, B.FDRand) else None
    points = []
    for label, gens in copies.items():
        with torch.no_grad():
            metrics = score(gens)
        points.append({"at": label, "metrics": metrics})
        print(label, {m: round(v, 3) for m, v in metrics.items() if m in BETTER}, flush=True)
    last = {m: points[-1]["metrics"][m] - ref["metrics"][m] for m in BETTER if m in ref["metrics"]}
    print("last point minus the committed figure:", last, flush=True)
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    row = ref["method"] + (f"-{ref['target']:g}" if ref["method"] != "dense" else "")
    out = args.out or Path(__file__).parent / "results" / \
        f"trajectory_{args.dataset}_{row}{args.seed_tag}.json"
    write_result(out, {"benchmark": f"trajectory_{args.dataset}", "row": args.row, "config": config_out,
                       "environment": environment(), "points": points, "last_minus_committed": last,
                       **({"untranslated": untranslated} if untranslated else {}),
                       "steps": dict(trainer.steps_done), "losses": trainer.losses})


if __name__ == "__main__":
    main()
