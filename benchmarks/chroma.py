"""When does a CycleGAN generator lose its colour? G_A's chroma on test photos, step by step.

On photo2monet-mini coronet's G_A translates photos into greyer images than the dense, uniform and
magnitude rows do. This traces where that happens, with the baselines' schedule and settings:

  dense    the dense generator, trained for the whole budget (search + fine-tune steps)
  coronet  the default coronet row at the first target: search, then fine-tune
  hyper    the hypernetwork form with the pruning switched off (no proximal step, no deaths) for
           the search budget: the parameterisation alone, without any channel removed
  rows     no training: every trained row kept in the --rows-from folders (baselines.py's and
           variant.py's --work), G_A on all test photos and G_B on all test paintings, each row's
           chroma beside its FD-rand, and the rank correlation of the two over the coronet rows
           (does a greyer translation explain a worse FD-rand?)

Chroma of an image batch: the mean over pixels of |channel - mean of the pixel's three channels|,
in the [-1, 1] units the generator outputs (0 for a grey image). The test photos' own chroma and
the Monet paintings' (trainB) are written alongside. Each mode is one process:

    python benchmarks/chroma.py photo2monet --mode dense --seed 4 --threads 1
    python benchmarks/chroma.py photo2monet --mode coronet --seed 4 --threads 1
    python benchmarks/chroma.py photo2monet --mode hyper --seed 4 --threads 1
    python benchmarks/chroma.py photo2monet --mode dense --lr 1e-3 --seed 4 --threads 1
    python benchmarks/chroma.py photo2monet --mode rows --rows-from /tmp/bp_seed3 /tmp/bpsf_seed3

The last asks whether a faster learning rate alone greys a dense generator: one Adam step moves a
generated kernel about 6x as far, relative to its size, as a plain convolution's weights
(benchmarks/kernel_step.py).

Writes benchmarks/results/chroma_<dataset>_<mode>[_lrX][_seedN].json (rows: chroma_<dataset>_rows.json).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from scipy.stats import spearmanr

import baselines as B
from common import environment, write_result
from coronet.gan.trainer import Trainer

MODES = ("dense", "coronet", "hyper", "rows")


def chroma(images: torch.Tensor) -> float:
    return float((images - images.mean(1, keepdim=True)).abs().mean())


class TracedTrainer(Trainer):
    """A Trainer that translates a fixed batch with G_A every `every` steps."""

    def __init__(self, *a, probe: torch.Tensor, every: int, **kw) -> None:
        super().__init__(*a, **kw)
        self.probe, self.every, self.trace = probe, every, []

    def _after_step(self, values: dict[str, float]) -> None:
        super()._after_step(values)
        if self.step % self.every and self.step != 1:
            return
        generator = self.generators["G_A"]
        was_training = generator.training
        with torch.no_grad():
            out = generator.eval()(self.probe)
        generator.train(was_training)
        self.trace.append({"step": self.step, "phase": self.phase, "chroma": chroma(out),
                           "std": float(out.std())})
        print(self.trace[-1], flush=True)


def main() -> None:
    def more(p):
        p.add_argument("--mode", choices=MODES, required=True)
        p.add_argument("--images", type=int, default=20, help="test photos translated at each probe")
        p.add_argument("--every", type=int, default=20, help="steps between probes")
        p.add_argument("--lr", type=float, help="Adam's learning rate (default: the config's 2e-4)")
        p.add_argument("--rows-from", type=Path, nargs="+", default=[],
                       help="rows mode: --work folders of finished baselines.py / variant.py runs")

    args = B.arguments(__doc__, more)
    if args.model != "cyclegan":
        raise SystemExit("chroma.py traces a CycleGAN generator: use photo2monet")
    if args.mode == "rows":
        return trained_rows(args)
    lr = f"_lr{args.lr:g}" if args.lr else ""
    name = f"chroma_{args.dataset}_{args.mode}{lr}{args.seed_tag}.json"
    args.out = args.out or Path(__file__).parent / "results" / name
    photos = B.folder_tensors(args.data / "testA", args.size)
    probe = photos[: args.images]
    if args.mode == "dense":
        cfg = B.config(args, steps=args.search_steps + args.finetune_steps)
    else:
        cfg = B.config(args, ratio=args.targets[0])
    if args.mode == "hyper":
        cfg.train.finetune_steps = 0
    if args.lr:
        cfg.train.lr = args.lr
    with tempfile.TemporaryDirectory() as tmp:
        trainer = TracedTrainer(cfg, Path(tmp), compress=args.mode != "dense", probe=probe, every=args.every)
        if args.mode == "hyper":
            for ctl in trainer.controllers.values():  # keep every channel: only the parameterisation
                ctl.step = lambda lr, ctl=ctl: ctl.status()
        trainer.run()
    paintings = B.folder_tensors(args.data / "trainB", args.size)
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {
        "benchmark": f"chroma_{args.dataset}", "mode": args.mode, "config": config_out,
        "environment": environment(), "steps_by_phase": trainer.steps_done,
        "reference_chroma": {"test_photos": chroma(photos), "probe_photos": chroma(probe),
                             "monet_train": chroma(paintings)},
        "trace": trainer.trace})


def trained_rows(args) -> None:
    """Chroma and FD-rand of finished rows; each folder's settings are its own row.json's."""
    args.out = args.out or Path(__file__).parent / "results" / f"chroma_{args.dataset}_rows.json"
    for folder in args.rows_from:
        if not any(folder.glob("*/row.json")):
            raise SystemExit(f"--rows-from {folder}: no finished rows (*/row.json) there")
    scorer = B.FDRand(args)
    rows = []
    for folder in args.rows_from:
        args.work = folder  # where generators_of looks
        batch = [B.saved_row(args, p.parent.name) for p in sorted(folder.glob("*/row.json"))]
        for r in batch:
            fakes = scorer.translate(B.generators_of(args, r["row"]))
            r["metrics"] = scorer.score(fakes)
            # the translations are in [0, 1]; chroma is defined in the generator's [-1, 1] units
            r["chroma"] = {g: 2 * chroma(images) for g, images in fakes.items()}
            r["work"] = str(folder)
            print(f"{folder.name:<12} {r['row']:<16} chroma A->B {r['chroma']['G_A']:.3f} "
                  f"B->A {r['chroma']['G_B']:.3f}  FD-rand {r['metrics']['fd_rand_AtoB']:.1f} / "
                  f"{r['metrics']['fd_rand_BtoA']:.1f}", flush=True)
        rows += batch
    coronet = [r for r in rows if r["row"].startswith("coronet@")]  # searched runs, not coronet-arch
    correlation = {}
    for g, fd in (("G_A", "fd_rand_AtoB"), ("G_B", "fd_rand_BtoA")):
        if len(coronet) >= 3:
            rho, p = spearmanr([r["chroma"][g] for r in coronet], [r["metrics"][fd] for r in coronet])
            correlation[f"{g} chroma vs {fd}"] = {"spearman_rho": float(rho), "p": float(p),
                                                  "rows": len(coronet)}
            print(f"coronet rows: {g} chroma vs {fd}: Spearman rho {rho:+.2f} (p {p:.2f}, "
                  f"{len(coronet)} rows)")
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "work"}
    config_out["rows_from"] = [str(f) for f in args.rows_from]
    write_result(args.out, {
        "benchmark": f"chroma_{args.dataset}_rows", "config": config_out, "environment": environment(),
        "reference_chroma": {"test_photos": chroma(scorer.test["A"]),
                             "test_paintings": chroma(scorer.test["B"])},
        "rows": rows, "coronet_chroma_vs_fd": correlation})


if __name__ == "__main__":
    main()
