"""`coronet compress` (and `coronet train`): one run from data to exported generator(s)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from coronet.cli._common import (
    LATENCY_MODEL,
    add_run_flags,
    build_config,
    check_before_start,
    check_resume_flags,
    create_run_dir,
    keep_latency_model,
    resolved,
    with_latency_model,
)
from coronet.eval.report import plot_tradeoff
from coronet.gan.checkpoint import load_checkpoint
from coronet.gan.distributed import DistContext
from coronet.gan.resume import resumed_config
from coronet.gan.trainer import Trainer, fork_folder
from coronet.runs import CHECKPOINT, CONFIG, RunDir, write_text_atomically
from coronet.runs.outputs import write_run_outputs

DESCRIPTION = """Compress a Pix2Pix or CycleGAN generator while it trains: the search prunes
channels through hypernetworks until the cost lands inside [0.98, 1.00] x the target (never over),
the compact generator is exported, then fine-tuned. With no arguments: the quickstart, Pix2Pix on the built-in
edges2shapes dataset at 25% of the MACs, on the CPU in a few minutes."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="compress a generator to a MACs/params budget while training",
                       description=DESCRIPTION)
    add_run_flags(p, compress=True)
    t = sub.add_parser("train", help="train a dense baseline with the same machinery",
                       description="Train a dense generator (no pruning) with the same data, "
                                   "losses and schedule as `coronet compress`.")
    add_run_flags(t, compress=False)


def run(args: argparse.Namespace) -> int:
    compress = args.command == "compress"
    if args.resume is not None:
        check_resume_flags(args)
        run_dir = RunDir(args.resume)
        if args.dry_run:  # what the run would continue with; the folder is only read
            state = load_checkpoint(run_dir.file(CHECKPOINT))
            print(resumed_config(state, args.device, args.set, args.dataroot).to_json())
            return 0
        dist = DistContext.from_environment(args.device or "cpu")
        with _writing(run_dir, dist, "compress --resume"):
            trainer = Trainer.resume(run_dir.path, dist=dist, device=args.device, overrides=args.set,
                                     dataroot=args.dataroot)
            if args.dataroot is not None and dist.is_main:  # later commands read the data's new place
                write_text_atomically(run_dir.file(CONFIG), trainer.cfg.to_json() + "\n")
            print(f"resuming {run_dir} at step {trainer.step} ({trainer.phase})", file=sys.stderr)
            _train_and_report(trainer, run_dir, compress)
        return 0
    cfg = build_config(args, compress)
    if args.dry_run:
        print(resolved(cfg, compress).to_json())
        return 0
    if compress:
        cfg = with_latency_model(cfg)
    check_before_start(cfg, compress)
    dist = DistContext.from_environment(cfg.train.device)
    run_dir = create_run_dir(cfg, compress, dist)
    trainer = None
    with _writing(run_dir, dist, "compress"):
        try:
            cfg = keep_latency_model(cfg, run_dir) if dist.is_main else cfg.updated(
                {"prune.latency_model": LATENCY_MODEL if cfg.prune.latency_model else None})
            dist.barrier()
            trainer = Trainer(cfg, run_dir.path, compress=compress, dist=dist)
            if dist.is_main:
                write_text_atomically(run_dir.file(CONFIG), trainer.cfg.to_json() + "\n")
            dist.barrier()
            _train_and_report(trainer, run_dir, compress)
        except BaseException:
            if dist.is_main and (trainer is None or trainer.step == 0):
                run_dir.discard()  # made by this command a moment ago; nothing to resume in it
            raise
    return 0


def measured_latency(trainer: Trainer) -> dict:
    """Each compact generator's latency as the search predicted it and as its export measures on the
    runtime the target names, side by side (the report's `latency_target` section)."""
    from coronet.deploy.latency_model import Runtime, time_generators
    from coronet.pruning import LATENCY_UNITS_PER_MS

    p, size = trainer.cfg.prune, (trainer.cfg.data.crop_size,) * 2
    runtime = Runtime(p.latency_runtime, p.latency_dtype, p.latency_threads)
    compact = {name: trainer.generators[name] for name in trainer.names}
    measured = time_generators(compact, size, runtime, runs=30, desc="measuring the exported latency")
    per_ms = LATENCY_UNITS_PER_MS
    rows = {name: {"predicted_ms": trainer.controllers[name].cost_model.cost("latency", g.widths) / per_ms,
                   "measured_ms": measured[name]} for name, g in compact.items()}
    target = trainer.controllers[trainer.names[0]].budget.limit / per_ms
    return {"runtime": runtime.describe(), "target_ms": target, "generators": rows}


def _writing(run_dir: RunDir, dist: DistContext, command: str):
    """The run folder's lock, held by the process that writes the outputs (rank 0)."""
    return run_dir.writing(command) if dist.is_main else contextlib.nullcontext()


def _train_and_report(trainer: Trainer, run_dir: RunDir, compress: bool) -> None:
    """Train the run to its end and write its outputs; then each target it forked on the way
    (`prune.also`), in turn: an ordinary run folder that resumes at its landing."""
    _finish(trainer, run_dir, compress)
    forks = [fork_folder(run_dir.path, trainer.cfg.prune.metric, v) for v in sorted(trainer.cfg.prune.also)]
    for folder in forks:
        fork_dir = RunDir(folder)
        with _writing(fork_dir, trainer.dist, "compress"):
            fork = Trainer.resume(folder, dist=trainer.dist, device=trainer.cfg.train.device)
            if trainer.dist.is_main:
                write_text_atomically(fork_dir.file(CONFIG), fork.cfg.to_json() + "\n")
            print(f"fine-tuning the fork {folder.name} ({fork_dir})", file=sys.stderr)
            _finish(fork, fork_dir, compress)
    if forks and trainer.dist.is_main:
        section = targets_section(run_dir, forks)
        section["plot"] = plot_tradeoff(section["models"], run_dir.file(TRADEOFF))
        run_dir.update_report({"targets": section})


TRADEOFF = "tradeoff.png"


def targets_section(run_dir: RunDir, forks: list[Path]) -> dict:
    """One row per model the search gave (this run's and its forks', largest first): what the
    trade-off table and plot of report.md show."""
    rows = []
    for folder in [*reversed(forks), run_dir.path]:
        report = RunDir(folder).read_report()
        g = report["generators"]["G_A"]
        row = {"folder": str(Path(folder).relative_to(run_dir.path)) if folder != run_dir.path else ".",
               "target": report["target"], "macs": g["compressed"]["macs"],
               "params": g["compressed"]["params"],
               "dense_macs": g["dense"]["macs"], "achieved_ratio": g["achieved_ratio"]}
        if "test_metrics" in g:
            row |= {k: g["test_metrics"][k] for k in ("psnr", "ssim")}
        if "latency_target" in report:
            measured = report["latency_target"]["generators"]["G_A"]
            row |= {k: measured[k] for k in ("predicted_ms", "measured_ms")}
        rows.append(row)
    return {"models": rows}


def _finish(trainer: Trainer, run_dir: RunDir, compress: bool) -> None:
    summary = trainer.run()
    if trainer.dist.is_main:
        report = write_run_outputs(summary, run_dir.path, trainer.test_set)
        if compress and trainer.cfg.prune.metric == "latency":
            section = measured_latency(trainer)
            report = run_dir.update_report({"latency_target": section})
            for name, row in section["generators"].items():
                print(f"{name}: predicted {row['predicted_ms']:.3g} ms, measured {row['measured_ms']:.3g} ms "
                      f"on {section['runtime']} (target {section['target_ms']:.3g} ms)")
        for name, g in report["generators"].items():
            line = f"{name}: {g['compressed']['macs']:,} MACs, {g['compressed']['params']:,} params"
            if compress:
                line += (f", {report['target']['metric']} ratio {g['achieved_ratio']:.4f}, "
                         f"export max |diff| {g['export_max_abs_diff']:.1e}")
                if g.get("forced_landing"):
                    line += ("; landing forced: the search ran out of steps and removed the least "
                             "important channels at once (more --search-steps lets it choose)")
            print(line)
        print(f"results in {run_dir}/ (report.md, report.json, "
              + ", ".join(f for files in report["exported"].values() for f in files) + ")")
    trainer.dist.barrier()
