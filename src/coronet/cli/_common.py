"""Flags shared by `compress` and `train`: preset -> config file -> flags -> --set, in that order."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from coronet.config import (
    PHASE_LENGTHS,
    Length,
    RunConfig,
    TrainConfig,
    apply_overrides,
    from_dict,
    list_presets,
    load_preset,
)
from coronet.errors import ConfigError, CoronetError
from coronet.gan.distributed import DistContext
from coronet.models import get_generator, list_generators
from coronet.runs import RunDir, write_text_atomically


def add_run_flags(p: argparse.ArgumentParser, compress: bool) -> None:
    p.add_argument("--config", metavar="PRESET_OR_YAML",
                   help=f"a preset ({', '.join(list_presets())}) or a YAML file")
    d = RunConfig()  # what an unset flag leaves (a preset or --config may set it otherwise)
    p.add_argument("--model", choices=("pix2pix", "cyclegan"), help=f"the GAN (default: {d.train.model})")
    p.add_argument("--dataroot", help="dataset folder (aligned or unaligned layout) or builtin:NAME "
                                      f"(default: {d.data.dataroot})")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help=f"default: {d.data.direction}")
    p.add_argument("--netG", choices=list_generators(), help=f"the generator (default: {d.model.netG})")
    p.add_argument("--ngf", type=int, help=f"the dense generator's base width (default: {d.model.ngf})")
    p.add_argument("--load-size", type=int, help=f"images are resized to this (default: {d.data.load_size})")
    p.add_argument("--crop-size", type=int, help=f"then cropped to this (default: {d.data.crop_size})")
    p.add_argument("--batch-size", type=int, help=f"default: {d.data.batch_size}")
    if compress:
        target = p.add_mutually_exclusive_group()
        target.add_argument("--target-macs", type=float, nargs="+", metavar="R",
                            help="keep this share of the dense MACs (<= 1), or an absolute count (> 1) "
                                 f"(default: {d.prune.ratio}); several: one search, a model for each")
        target.add_argument("--target-params", type=float, nargs="+", metavar="R",
                            help="keep this share of the dense parameters (<= 1), or a count (> 1)")
        target.add_argument("--target-latency", type=float, nargs="+", metavar="MS",
                            help="milliseconds per image on --latency-runtime (measured on this machine "
                                 "once per generator and runtime, then cached)")
        p.add_argument("--latency-runtime", choices=("onnxruntime", "executorch"),
                       help=f"what a latency target runs on (default: {d.prune.latency_runtime})")
        p.add_argument("--latency-dtype", choices=("fp32", "int8"),
                       help=f"the exported model's data type there (default: {d.prune.latency_dtype})")
        p.add_argument("--latency-threads", type=int,
                       help=f"its CPU threads (default: {d.prune.latency_threads})")
        p.add_argument("--search-steps", type=int, help="search budget (it ends once the target is met; "
                                                        f"default: {d.train.search})")
        p.add_argument("--init-from", metavar="DENSE.pth",
                       help="start from a trained dense generator (pytorch-CycleGAN-and-pix2pix layout)")
    p.add_argument("--finetune-steps" if compress else "--steps", dest="finetune_steps", type=int,
                   metavar="STEPS",
                   help=("fine-tuning steps after the search" if compress else "training steps")
                   + f" (default: {d.train.finetune})")
    p.add_argument("--out", help=f"folder that holds the run folders (default: {d.out})")
    p.add_argument("--name", help="run name (default: model-dataset-target)")
    p.add_argument("--device", help=f"cpu, cuda, cuda:1, ... (default: {d.train.device})")
    p.add_argument("--seed", type=int, help=f"default: {d.train.seed}")
    p.add_argument("--resume", metavar="RUN_DIR", type=Path, help="continue an interrupted run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config field, e.g. --set train.lr=1e-4 (repeatable)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config and exit (with --resume: what the run continues with)")


def build_config(args: argparse.Namespace, compress: bool) -> RunConfig:
    """The run's config: preset or YAML file, then the flags, then every `--set`, in that order."""
    cfg = from_dict(load_preset(args.config)) if args.config else RunConfig()
    given = {
        "train.model": args.model, "data.dataroot": args.dataroot, "data.direction": args.direction,
        "model.netG": args.netG, "model.ngf": args.ngf, "data.load_size": args.load_size,
        "data.crop_size": args.crop_size, "data.batch_size": args.batch_size,
        "train.finetune": args.finetune_steps, "train.device": args.device,
        "train.seed": args.seed, "out": args.out, "name": args.name,
        **({"train.search": args.search_steps, "model.init_from": args.init_from,
            "prune.latency_runtime": args.latency_runtime, "prune.latency_dtype": args.latency_dtype,
            "prune.latency_threads": args.latency_threads} if compress else {}),
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if compress:
        changes |= target_changes(args)
    if args.finetune_steps is not None:  # the decay must fit inside the fine-tuning steps given
        decay = cfg.train.decay if cfg.train.decay.unit == "steps" else TrainConfig().decay
        if decay.steps > args.finetune_steps:
            decay = Length(max(args.finetune_steps, 0) // 2)
        changes["train.decay"] = decay
    return apply_overrides(cfg.updated(changes), args.set)


def target_changes(args: argparse.Namespace) -> dict[str, object]:
    """The `prune.*` settings of `--target-macs/-params/-latency`: the smallest value is the run's
    own target, the others (`prune.also`) are forked from its search."""
    for metric, values in (("macs", args.target_macs), ("params", args.target_params),
                           ("latency", args.target_latency)):
        if values is None:
            continue
        if not all(math.isfinite(v) and v > 0 for v in values):
            shown = ", ".join(f"{v:g}" for v in values)
            if metric == "latency":
                raise ConfigError(f"--target-latency takes milliseconds > 0 (got {shown})")
            raise ConfigError(f"--target-{metric} takes a share of the dense model's "
                              f"{'MACs' if metric == 'macs' else 'parameters'} in (0, 1] or an absolute "
                              f"count above 1 (got {shown})")
        if metric != "latency" and len({v <= 1 for v in values}) > 1:
            raise ConfigError(f"--target-{metric}: give every target as a share (<= 1) or every one as an "
                              "absolute count (> 1), not both")
        own = min(values)
        share = metric != "latency" and own <= 1
        return {"prune.metric": metric, "prune.ratio": own if share else None,
                "prune.absolute": None if share else own, "prune.also": tuple(v for v in values if v != own)}
    return {}


def check_before_start(cfg: RunConfig, compress: bool) -> RunConfig:
    """The config with the reference's defaults filled in, refused here if the run would refuse it
    (sizes, device, an impossible target), so that no run folder is made for it."""
    from coronet.gan import networks, setup

    cfg = setup.resolve_defaults(cfg)
    if compress and (cfg.prune.metric != "latency" or cfg.prune.latency_model):
        networks.check_budgets(cfg)  # a latency target is checked once its model is measured
    return cfg


def with_latency_model(cfg: RunConfig) -> RunConfig:
    """For a latency target, `cfg` naming the latency model of its generator on its runtime: the
    cached one, or one measured now (minutes, with a progress bar). The path given is made absolute."""
    p = cfg.prune
    if p.metric != "latency":
        return cfg
    if p.latency_model:
        return cfg.updated({"prune.latency_model": str(Path(p.latency_model).resolve())})
    from coronet.deploy.latency_model import Runtime, cached, latency_model
    from coronet.gan import networks

    dense = get_generator(cfg.model.netG, **networks.generator_options(cfg))
    runtime, size = Runtime(p.latency_runtime, p.latency_dtype, p.latency_threads), (cfg.data.crop_size,) * 2
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 measures; the others wait for its file
        path, valid = cached(dense, size, runtime)
        for _ in range(LATENCY_WAIT_S):
            if valid:
                return cfg.updated({"prune.latency_model": str(path)})
            time.sleep(1)
            path, valid = cached(dense, size, runtime)
        raise ConfigError(f"rank {os.environ['RANK']} waited {LATENCY_WAIT_S} s for rank 0's latency model")
    print(f"latency model of {cfg.model.netG} at {cfg.data.crop_size}² on {runtime.describe()}: "
          "from the cache, or measured now", file=sys.stderr)
    path = latency_model(dense, size, runtime, p.min_channels)
    return cfg.updated({"prune.latency_model": str(path)})


LATENCY_WAIT_S = 3600  # a measurement takes minutes; an hour means rank 0 is gone


LATENCY_MODEL = "latency-model.json"  # a run's copy of the latency model its search spends


def keep_latency_model(cfg: RunConfig, run_dir: RunDir) -> RunConfig:
    """The run folder keeps the latency model it searches with, so a resume (or a moved folder)
    spends the same one whatever the cache holds by then."""
    if not cfg.prune.latency_model:
        return cfg
    write_text_atomically(run_dir.file(LATENCY_MODEL), Path(cfg.prune.latency_model).read_text())
    return cfg.updated({"prune.latency_model": LATENCY_MODEL})


def resolved(cfg: RunConfig, compress: bool = True) -> RunConfig:
    """The config as the run will use it: the reference's model-dependent defaults filled in and, where
    the data can be listed, epochs turned into steps (what `--dry-run` prints)."""
    from coronet.gan import setup

    cfg = check_before_start(cfg, compress)
    if any(getattr(cfg.train, phase).unit == "epochs" for phase in PHASE_LENGTHS):
        try:
            train, _ = setup.make_datasets(cfg)
        except CoronetError as exc:  # e.g. not downloaded yet: the steps stay unknown until it is
            print(f"note: steps from epochs are computed when the data is there ({exc})", file=sys.stderr)
            return cfg
        cfg = setup.steps_from_epochs(cfg, setup.steps_per_epoch(len(train), cfg.data.batch_size))
    return cfg


def default_name(cfg: RunConfig, compress: bool) -> str:
    dataset = Path(cfg.data.dataroot.removeprefix("builtin:")).name or "data"
    if not compress:
        return f"{cfg.train.model}-{dataset}-dense"
    p = cfg.prune
    target = f"{p.ratio:g}" if p.ratio is not None else f"{p.absolute:.3g}"
    return f"{cfg.train.model}-{dataset}-{p.metric}{target}"


def create_run_dir(cfg: RunConfig, compress: bool, dist: DistContext) -> RunDir:
    """A fresh numbered folder, so an earlier run is never overwritten (rank 0 creates it)."""
    holder = [None]
    if dist.is_main:
        holder = [str(RunDir.create(cfg.out, cfg.name or default_name(cfg, compress)).path)]
    if dist.active:
        import torch.distributed as tdist

        tdist.broadcast_object_list(holder, src=0)
    return RunDir(holder[0])


# Flags a resumed run cannot honour: it continues with the config it saved. --device, --dataroot
# (the same data, moved) and the --set keys that change only how it executes are allowed.
FIXED_ON_RESUME = ("config", "model", "direction", "netG", "ngf", "load_size", "crop_size", "batch_size",
                   "target_macs", "target_params", "target_latency", "latency_runtime", "latency_dtype",
                   "latency_threads", "search_steps", "init_from", "finetune_steps", "out",
                   "name", "seed")


def check_resume_flags(args: argparse.Namespace) -> None:
    """Refuse every flag a resumed run would ignore; `--set` is checked by `Trainer.resume`, which lets
    through the keys that change only how the run executes (train.compile, data.num_workers)."""
    ignored = [k for k in FIXED_ON_RESUME if getattr(args, k, None) is not None]
    if ignored:
        steps = "--steps" if args.command == "train" else "--finetune-steps"
        names = {"netG": "--netG", "finetune_steps": steps}
        flags = ", ".join(names.get(k, "--" + k.replace("_", "-")) for k in ignored)
        raise ConfigError(f"--resume continues a run with its saved config; {flags} cannot change there: "
                          f"drop {'it' if len(ignored) == 1 else 'them'}, or start a new run")
