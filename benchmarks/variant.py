"""A coronet variant against a finished baselines.py result, training only the coronet rows.

The baselines (dense, uniform, magnitude) of a committed result do not depend on coronet's options,
so a variant (another latent start, another fine-tune start) needs only its own coronet rows to be
compared with them at the same seed and schedule. The result's settings are checked first; the
variant's rows and the result's rows are written side by side with the paired differences.

    python benchmarks/variant.py edges2shoes --latent-init ones --seed 1 \
        --against benchmarks/results/baselines_edges2shoes_seed1.json

--from-dense starts coronet where the magnitude baseline starts: the hypernetwork generates the
trained dense row's weights (and the dense row's discriminators go on), so it needs that run's
--work folder. It gets the magnitude row's step budget, the fine-tune steps, half of them (at most)
to search and half to fine-tune, so the two prune the same model with the same training:

    python benchmarks/variant.py photo2monet --from-dense --seed 4 --threads 1 --work /tmp/bp_seed4 \
        --against benchmarks/results/baselines_photo2monet_seed4.json

With --latent-init norms the latents start at the dense filters' L1 norms rather than at one, so
the search's L1 step reaches the channels magnitude pruning would cut first.

--hypernet-finetune fine-tunes through the hypernetwork: at the hand-over the hyper-model goes on
training at the searched widths (the same Adam, no L1 step, the alive masks fixed) and is
materialized only at the end. It tells whether switching to plain weights costs the quality or the
training through the hypernetwork does (a fine-tune step then costs a search step):

    python benchmarks/variant.py edges2shoes --hypernet-finetune --targets 0.25 --search-steps 1200 \
        --finetune-steps 1200 --seed 1 --threads 1 \
        --against benchmarks/results/baselines_edges2shoes_long_seed1.json

--finetune-lr-scale X is the same step for coronet: the search runs as it would (a generated
kernel already moves ~6x as far as a plain weight), and the compact generators it hands over
fine-tune at the generators' lr times X. It gives coronet's fine-tuning the step that made the
baselines level with it at this length:

    python benchmarks/variant.py edges2shoes --finetune-lr-scale 5 --seed 1 --threads 1 \
        --against benchmarks/results/baselines_edges2shoes_seed1.json

--uniform-lr-scale X is a control of the baseline, not a coronet variant: it retrains the uniform
rows (same widths, steps and seed) with the generators' learning rate times X, the discriminators'
unchanged. At DHP's step a generated kernel moves about 6x as far per step as a plain convolution's
weights (kernel_step.py), so it asks whether coronet's lead at the short length is that larger step:

    python benchmarks/variant.py edges2shoes --uniform-lr-scale 5 --seed 1 --threads 1 \
        --against benchmarks/results/baselines_edges2shoes_seed1.json

--magnitude-lr-scale X does the same for the magnitude rows: it prunes the dense row of --work (the
folder baselines.py trained in; retrained if missing, and checked against the reference's) and
fine-tunes it with the generators' lr times X:

    python benchmarks/variant.py edges2shoes --magnitude-lr-scale 2.5 --targets 0.25 \
        --search-steps 1200 --finetune-steps 1200 --seed 2 --threads 1 --work /tmp/be4x_seed2 \
        --against benchmarks/results/baselines_edges2shoes_long_seed2.json

--dense-lr-scale X retrains the dense row (its steps and seed) the same way. At ~600 steps the rows
trained at the reference's lr are short of training, so the dense row at 1x understates what 4x or
10x the MACs buys; at the step that made uniform level with coronet it shows whether this length
can tell the budgets apart at all.

Writes benchmarks/results/variant_<dataset>[_s<search>-f<finetune>]_<variant>[_seed<N>].json, the
schedule named where it is not the benchmark's default (--out to choose).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import baselines as B
from baselines_seeds import BETTER, row_name
from common import environment, write_result
from coronet.gan.trainer import Trainer
from coronet.pruning import materialize
from coronet.pruning.hypernet import HyperGenerator

MATCH = ("dataset", "size", "ngf", "seed", "search_steps", "finetune_steps", "batch")


def variant_name(args) -> str:
    parts = [*B.coronet_options(args),
             "from-dense" if args.from_dense else "",
             "hypernet-ft" if args.hypernet_finetune else "",
             f"ft-lr{args.finetune_lr_scale:g}" if args.finetune_lr_scale else "",
             *(f"{m}-lr{x:g}" for m, x in baseline_controls(args))]
    return "-".join(p for p in parts if p) or "default"


def baseline_controls(args) -> list[tuple[str, float]]:
    """(baseline, lr scale) of each --uniform-lr-scale / --magnitude-lr-scale / --dense-lr-scale given."""
    return [(m, x) for m, x in (("uniform", args.uniform_lr_scale), ("magnitude", args.magnitude_lr_scale),
                                ("dense", args.dense_lr_scale)) if x is not None]


def reference_rows(args) -> list[dict]:
    """The committed rows, after checking they were trained with this run's settings."""
    if not args.against.is_file():
        raise SystemExit(f"--against {args.against}: give a finished baselines.py result (JSON)")
    result = json.loads(args.against.read_text())
    theirs = result["config"]
    if theirs.get("seed") is None:  # results written before --seed existed were all seed 0
        theirs = {**theirs, "seed": 0}
    differ = [k for k in MATCH if theirs.get(k) != getattr(args, k)]
    if differ:
        raise SystemExit(f"{args.against} was trained with other settings ({', '.join(differ)}): "
                         "pass the same --seed / --search-steps / --finetune-steps / --size / --ngf")
    return result["rows"]


class HypernetFinetune(Trainer):
    """The hand-over deferred to the end of the run: fine-tuning goes on through the hypernetwork.

    Exporting only at the end keeps the generators hyper-models through the fine-tune phase, so the
    run is never checkpointed (a benchmark trains in a temporary folder and does not resume)."""

    def _export(self) -> None:
        for name in self.names:
            status = self.controllers[name].status()
            self.exports[name] = {"widths": self.generators[name].widths(), "achieved_ratio": status.ratio,
                                  "forced_landing": status.forced, "search_steps": self.phase_step}
        self._enter("finetune")  # the same generators and Adam; the L1 step runs in the search only

    def save(self) -> None:
        pass

    def run(self) -> dict:
        summary = super().run()
        with torch.no_grad():
            for name in self.names:
                self.generators[name] = materialize(self.generators[name]).to(self.device)
        return summary


def scaled_generator_lr(scale: float, plain_only: bool = False) -> type[Trainer]:
    """A Trainer whose generators learn at `scale` x the run's learning rate (discriminators at 1x).
    With `plain_only` the scale waits for plain generators: coronet's search runs as it would, and
    only the compact generators it hands over fine-tune at the larger step."""

    class ScaledGeneratorLR(Trainer):
        def _generator_optimizer(self) -> torch.optim.Optimizer:
            opt = super()._generator_optimizer()
            if plain_only and any(isinstance(g, HyperGenerator) for g in self.generators.values()):
                return opt
            for group in opt.param_groups:
                group["lr_scale"] = group.get("lr_scale", 1.0) * scale
            return opt

    return ScaledGeneratorLR


def uniform_row(args, ratio: float, theirs: list[dict]) -> tuple[Trainer, float]:
    """The reference's uniform row retrained (its widths, steps and seed) at the scaled generator lr."""
    ref = next(r for r in theirs if r["row"] == f"uniform@{ratio}")
    cfg = B.config(args, steps=ref["steps"])
    generators = B.fresh_generators(args, cfg, B.uniform_row_widths(cfg, ratio))
    return B.train(cfg, compress=False, generators=generators,
                   trainer_class=scaled_generator_lr(args.uniform_lr_scale))


def dense_row(args, theirs: list[dict]) -> tuple[Trainer, float]:
    """The reference's dense row retrained (its steps and seed) at the scaled generator lr."""
    ref = next(r for r in theirs if r["row"] == "dense")
    return B.train(B.config(args, steps=ref["steps"]), compress=False,
                   trainer_class=scaled_generator_lr(args.dense_lr_scale))


def reference_dense(args, at: argparse.Namespace, theirs: list[dict]) -> None:
    """Make sure baselines.py's --work folder (`at`) holds a dense row of the reference's step count,
    training it as baselines.py did if the folder lacks one; the pruned rows start from it."""
    ref = next(r for r in theirs if r["row"] == "dense")
    dense = B.dense_row(at, ref["steps"])
    if dense["steps"] != ref["steps"]:
        raise SystemExit(f"--work {at.work} holds a dense row of {dense['steps']} steps, {args.against} "
                         f"one of {ref['steps']}: pass the --work folder baselines.py trained it in")


def magnitude_row(args, ratio: float, at: argparse.Namespace) -> tuple[Trainer, float]:
    """The reference's magnitude row retrained from the dense row of `at.work` (its widths, steps,
    seed and discriminators) at the scaled generator lr."""
    cfg = B.config(args, steps=args.finetune_steps)
    return B.train_magnitude(args, at, B.uniform_row_widths(cfg, ratio),
                             trainer_class=scaled_generator_lr(args.magnitude_lr_scale))


def from_dense_config(args, ratio: float, at: argparse.Namespace):
    """The magnitude row's start and step budget, coronet's pruning: search <= F/2, fine-tune F/2.
    `at`: the arguments with baselines.py's --work folder, where the dense row is."""
    dense_work = at.work / "dense"
    cfg = B.config(at, ratio=ratio)  # `at` has no latent start: norms needs init_from, set below
    half = args.finetune_steps // 2
    cfg.train.search_steps, cfg.train.finetune_steps, cfg.train.decay_steps = half, half, half
    cfg.model.init_from = str(dense_work / "G_A.json")
    cfg.model.init_from_B = str(dense_work / "G_B.json") if args.model == "cyclegan" else None
    # from a checkpoint: ones (the dense weights at z = 1), or the filters' norms if asked
    cfg.model.latent_init = "norms" if args.latent_init == "norms" else None
    return cfg, torch.load(dense_work / "discriminators.pt", weights_only=True)


def main() -> None:
    def more(p: argparse.ArgumentParser) -> None:
        p.add_argument("--against", type=Path, required=True,
                       help="the finished baselines.py result to compare with")
        p.add_argument("--from-dense", action="store_true",
                       help="start from the dense row in --work with the magnitude row's steps (see above)")
        p.add_argument("--hypernet-finetune", action="store_true",
                       help="fine-tune through the hypernetwork and materialize at the end (see above)")
        p.add_argument("--finetune-lr-scale", type=float,
                       help="coronet's fine-tuning (after the hand-over) at the generators' lr times "
                            "this; the search unchanged (see above)")
        p.add_argument("--uniform-lr-scale", type=float,
                       help="retrain the uniform rows instead, the generators' lr times this (see above)")
        p.add_argument("--magnitude-lr-scale", type=float,
                       help="retrain the magnitude rows instead from the dense row in --work, the "
                            "generators' lr times this (see above)")
        p.add_argument("--dense-lr-scale", type=float,
                       help="retrain the dense row instead, the generators' lr times this (see above)")

    args = B.arguments(__doc__, more=more)
    if args.hypernet_finetune and (args.from_dense or args.finetune_init != "searched"):
        raise SystemExit("--hypernet-finetune keeps the searched hyper-model: it cannot be combined with "
                         "--from-dense or --finetune-init (drop one of them)")
    if args.finetune_lr_scale is not None and (not args.finetune_lr_scale > 0 or args.hypernet_finetune
                                               or args.from_dense):
        raise SystemExit("--finetune-lr-scale: > 0, for a search from scratch that hands over to plain "
                         "weights (without --hypernet-finetune / --from-dense)")
    if args.latent_init == "norms" and not args.from_dense:
        raise SystemExit("--latent-init norms reads the trained dense row's filters: add --from-dense")
    theirs = reference_rows(args)
    at, name = argparse.Namespace(**vars(args)), variant_name(args)  # `at`: baselines.py's --work
    at.latent_init = None  # the dense row it trains or reuses has no latents
    controls = baseline_controls(args)
    if controls and (len(controls) > 1 or not controls[0][1] > 0
                     or args.from_dense or args.hypernet_finetune or args.finetune_lr_scale):
        raise SystemExit(f"{' and '.join(f'--{m}-lr-scale' for m, _ in controls)}: one baseline control "
                         "at a time, > 0, without --from-dense / --hypernet-finetune / --finetune-lr-scale "
                         "(it retrains baseline rows only)")
    if args.from_dense or args.hypernet_finetune or args.finetune_lr_scale or controls:
        args.work = at.work / name  # a folder of its own: --work's rows are the default's and the reference's
    spec = B.SETS[args.dataset]
    schedule = "" if (args.search_steps, args.finetune_steps) == (spec["search"], spec["finetune"]) \
        else f"_s{args.search_steps}-f{args.finetune_steps}"
    results = Path(__file__).parent / "results"
    args.out = args.out or results / f"variant_{args.dataset}{schedule}_{name}{args.seed_tag}.json"
    rows = []
    method = controls[0][0] if controls else "coronet"
    if args.from_dense or args.magnitude_lr_scale:
        reference_dense(args, at, theirs)
    for ratio in [1.0] if method == "dense" else args.targets:  # the dense row has no target
        row = row_name(method, ratio)
        if (r := B.saved_row(args, row)) is None:
            if args.dense_lr_scale:
                trainer, wall = dense_row(args, theirs)
            elif args.uniform_lr_scale:
                trainer, wall = uniform_row(args, ratio, theirs)
            elif args.magnitude_lr_scale:
                trainer, wall = magnitude_row(args, ratio, at)
            elif args.from_dense:
                cfg, discs = from_dense_config(args, ratio, at)
                trainer, wall = B.train(cfg, compress=True, discriminators=discs)
            else:
                trainer_class = HypernetFinetune if args.hypernet_finetune else Trainer
                if args.finetune_lr_scale:
                    trainer_class = scaled_generator_lr(args.finetune_lr_scale, plain_only=True)
                trainer, wall = B.train(B.config(args, ratio=ratio), compress=True,
                                        trainer_class=trainer_class)
            r = B.save_row(args, row, trainer, wall, {"method": method, "target": ratio})
        rows.append(r)
    score = B.scorer(at)  # the test set only; `at` has no dense-only latent start to refuse
    B.quality(args, rows, score)
    if args.from_dense or args.magnitude_lr_scale:  # the dense row it started from must score the
        # reference's (CPU training is deterministic): then a retrained or reused dense row is the one
        # magnitude pruned
        ours = score(B.generators_of(at, "dense"))
        ref = next(r for r in theirs if r["row"] == "dense")["metrics"]
        check = {m: ours[m] - ref[m] for m in BETTER if m in ref}
        print("dense row it started from minus the reference's dense row:", check, flush=True)
    differences = {}
    for r in rows:
        for ref in theirs:
            if ref.get("target") in (r["target"], 1.0) and "metrics" in ref:
                key = f"{name} {r['row']} - {ref['row']}"
                # the quality metrics only, not counts such as images_A
                differences[key] = {m: r["metrics"][m] - ref["metrics"][m] for m in BETTER
                                    if m in r["metrics"] and m in ref["metrics"]}
                print(key, "  ".join(f"{m} {v:+.4f}" for m, v in differences[key].items()))
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {"benchmark": f"variant_{args.dataset}", "variant": name, "config": config_out,
                            "environment": environment(), "rows": rows,
                            "reference": {"file": str(args.against), "rows": theirs},
                            "differences": differences,
                            **({"start_dense_minus_reference": check}
                               if args.from_dense or args.magnitude_lr_scale else {})})


if __name__ == "__main__":
    main()
