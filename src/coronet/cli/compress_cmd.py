"""`coronet compress` (and `coronet train`): one run from data to exported generator(s)."""

from __future__ import annotations

import argparse
import contextlib
import sys

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
from coronet.gan.checkpoint import load_checkpoint
from coronet.gan.distributed import DistContext
from coronet.gan.resume import resumed_config
from coronet.gan.trainer import Trainer
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
