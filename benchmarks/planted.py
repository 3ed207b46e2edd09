"""Planted architecture: a task whose right widths are known, so the search's choice can be scored
without seed noise.

The teacher is a ResNet generator (BatchNorm, used in eval mode: a fixed per-channel affine after
its statistics are measured on the inputs) in which some residual blocks are made quiet: their last
norm's scale and shift are multiplied by `--quiet-scale`, so those blocks add almost nothing. The
right widths at the MACs of "the parts that matter" are then known: the quiet blocks' inner
channels at the minimum, everything else dense. Every student starts from the teacher's weights and
is trained to reproduce its output on the training inputs (L1; the outputs are observed with a
little noise, as real targets are), for the same number of steps:

  oracle    the teacher cut to the planted widths (channels kept by filter norm), then fine-tuned
  uniform   the teacher cut to uniform widths at the same MACs (filter norm), then fine-tuned
  coronet   the search from the teacher (`hypernetize(init="dense")`) to the same MACs, then the
            compact generator fine-tuned for the remaining steps

The benchmark resolves if the oracle's error is well below uniform's; the search is scored by the
share of that advantage it recovers and by the rank correlation of its keep ratios with the planted
ones. Filter norms do not reveal the quiet blocks (their convolutions are as large as any other's);
only the task can.

    python benchmarks/planted.py                       # ResNet-9 ngf 16, 64x64, 3 seeds
    python benchmarks/planted.py --seeds 0 --steps 100 --out /tmp/p.json  # quick look

Writes results/planted.json and its table, planted.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from scipy import stats
from torch import nn

from common import MINUS, RESULTS, environment, load, source, table, write_result
from coronet.data import make_dataset
from coronet.data.transforms import TransformConfig
from coronet.models import Generator, get_generator
from coronet.pruning import (
    BudgetController,
    BudgetTarget,
    ControllerConfig,
    CostModel,
    hypernetize,
    lr_groups,
    magnitude_prune,
    materialize,
    resolve_budget,
    uniform_widths,
)
from coronet.pruning.hyperconv import FORMS


@dataclass
class Task:
    teacher: Generator
    planted: dict[str, int]  # the right widths
    train_x: torch.Tensor
    test_x: torch.Tensor
    size: tuple[int, int]
    min_channels: int
    quiet: list[int] = field(default_factory=list)
    train_y: torch.Tensor | None = None  # the teacher's outputs on train_x, observed with noise

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.teacher(x)


def images(n: int, size: int, seed: int, phase: str) -> torch.Tensor:
    """`n` input images of the built-in edges2shapes set (drawn, no files needed)."""
    cfg = TransformConfig(size, size, "resize", False)
    data = make_dataset("builtin:edges2shapes", True, phase, "AtoB", cfg, seed=seed, max_items=n)
    return torch.stack([data[i]["A"] for i in range(n)])


def make_task(ngf: int = 16, n_blocks: int = 9, quiet: list[int] | None = None, size: int = 64,
              quiet_scale: float = 0.05, min_channels: int = 4, n_train: int = 64, n_test: int = 32,
              seed: int = 0, noise: float = 0.05) -> Task:
    """A teacher with quiet blocks (default: all but the first, the middle and the last)."""
    quiet = quiet if quiet is not None else [i for i in range(n_blocks) if i not in (0, n_blocks // 2,
                                                                                    n_blocks - 1)]
    torch.manual_seed(seed)
    teacher = get_generator(f"resnet_{n_blocks}blocks", ngf=ngf, norm="batch", use_dropout=False)
    train_x, test_x = images(n_train, size, seed, "train"), images(n_test, size, seed + 1, "test")
    for m in teacher.modules():  # the norms' statistics from the inputs, then frozen
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    teacher.train()
    with torch.no_grad():
        teacher(train_x)
    teacher.eval()
    with torch.no_grad():
        for i in quiet:
            last_norm = teacher.model[_block_index(teacher, i)].conv_block[-1]
            last_norm.weight.mul_(quiet_scale)
            last_norm.bias.mul_(quiet_scale)
    planted = dict(teacher.widths)
    for i in quiet:
        planted[f"block{i}"] = min_channels
    with torch.no_grad():  # a student starting at the teacher would otherwise see no gradient at all
        draw = torch.Generator().manual_seed(seed)
        train_y = teacher(train_x) + noise * torch.randn(train_x.shape, generator=draw)
    return Task(teacher, planted, train_x, test_x, (size, size), min_channels, quiet, train_y)


def _block_index(g: Generator, i: int) -> int:
    blocks = [j for j, m in enumerate(g.model) if type(m).__name__ == "ResnetBlock"]
    return blocks[i]


def error(g: nn.Module, task: Task) -> float:
    """Mean absolute difference from the teacher on the held-out inputs."""
    g.eval()
    with torch.no_grad():
        return float((g(task.test_x) - task.targets(task.test_x)).abs().mean())


def fit(g: nn.Module, task: Task, steps: int, lr: float, batch: int, seed: int,
        after_step=None, hyper_lr_scale: float = 1.0) -> nn.Module:
    """Train `g` to reproduce the teacher (L1), norms in eval mode as in the teacher; `after_step(step,
    lr)` runs after every optimiser step and ends the training when it returns True."""
    opt = torch.optim.Adam(lr_groups([g], hyper_lr_scale), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    g.eval()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        idx = torch.randint(len(task.train_x), (batch,), generator=gen)
        loss = (g(task.train_x[idx]) - task.train_y[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None and after_step(step, lr):
            break
    return g


def search(task: Task, ratio: float, steps: int, lr: float, batch: int, seed: int,
           config: ControllerConfig | None = None, hyper_lr_scale: float = 0.1,
           form: str = "lean") -> tuple[Generator, int]:
    """coronet's search from the teacher to `ratio` of its MACs; the compact generator and the
    steps the search took."""
    torch.manual_seed(seed)
    hyper = hypernetize(task.teacher, form=form, init="dense")
    cost = hyper.cost_model(task.size)
    budget = resolve_budget(BudgetTarget("macs", ratio=ratio), cost, task.min_channels)
    config = config or ControllerConfig(min_channels=task.min_channels)
    controller = BudgetController(hyper.latents, cost, budget, steps, lr, config)
    taken = {"steps": 0}

    def after_step(step: int, step_lr: float) -> bool:
        controller.step(step_lr)
        taken["steps"] = step + 1
        return controller.landed

    fit(hyper, task, steps, lr, batch, seed, after_step=after_step, hyper_lr_scale=hyper_lr_scale)
    if not controller.landed:
        controller.land_now()
    return materialize(hyper).eval(), taken["steps"]


def keep_ratios(widths: dict[str, int], dense: dict[str, int], prunable: list[str]) -> dict[str, float]:
    return {g: widths[g] / dense[g] for g in prunable}


def references(task: Task, steps: int, lr: float, batch: int, seed: int) -> dict:
    """The oracle (the teacher cut to the planted widths) and uniform widths at the same MACs, each
    fine-tuned for `steps`; with the target ratio and the error gap a search is scored against."""
    cost = CostModel(task.teacher, task.size)
    planted_macs = cost.macs(task.planted)
    rows = {}
    uniform = uniform_widths(cost, planted_macs, task.min_channels)
    for name, widths in (("oracle", task.planted), ("uniform", uniform)):
        student = magnitude_prune(task.teacher, widths).eval()
        fit(student, task, steps, lr, batch, seed)
        rows[name] = {"error": error(student, task), "macs": cost.macs(widths), "widths": widths}
    return {"target_ratio": planted_macs / cost.macs(task.teacher.widths), "rows": rows,
            "oracle_over_uniform": rows["oracle"]["error"] / rows["uniform"]["error"]}


def coronet_row(task: Task, refs: dict, steps: int, search_steps: int, lr: float, batch: int, seed: int,
                config: ControllerConfig, hyper_lr_scale: float, form: str) -> dict:
    """The search to the oracle's MACs, fine-tuned for the steps left, scored: the share of the
    oracle's advantage over uniform it recovers and the rank correlation of its keep ratios."""
    start = time.perf_counter()
    compact, taken = search(task, refs["target_ratio"], search_steps, lr, batch, seed, config,
                            hyper_lr_scale=hyper_lr_scale, form=form)
    after_search = error(compact, task)
    fit(compact, task, steps - taken, lr, batch, seed + 1)
    err, uniform = error(compact, task), refs["rows"]["uniform"]["error"]
    gap = uniform - refs["rows"]["oracle"]["error"]
    prunable = [g.name for g in task.teacher.layout.groups if g.prunable]
    planted_keep = keep_ratios(task.planted, task.teacher.widths, prunable)
    found_keep = keep_ratios(compact.widths, task.teacher.widths, prunable)
    macs = CostModel(task.teacher, task.size).macs(compact.widths)
    return {"error": err, "error_after_search": after_search, "search_steps": taken, "widths": compact.widths,
            "macs": macs, "planted_keep": planted_keep, "found_keep": found_keep,
            "recovered": (uniform - err) / gap if gap > 0 else None,
            "spearman": float(stats.spearmanr(list(planted_keep.values()), list(found_keep.values()))[0]),
            "wall_s": time.perf_counter() - start}


def run_seed(args, seed: int) -> dict:
    task = make_task(args.ngf, args.blocks, None, args.size, args.quiet_scale, args.min_channels,
                     args.train_images, args.test_images, seed, args.noise)
    refs = references(task, args.steps, args.lr, args.batch, seed)
    config = ControllerConfig(min_channels=task.min_channels, shrink=args.shrink,
                              importance_decay=args.importance_decay)
    found = coronet_row(task, refs, args.steps, args.search_steps, args.lr, args.batch, seed, config,
                        args.hyper_lr_scale, args.hypernet)
    scores = ("planted_keep", "found_keep", "recovered", "spearman", "wall_s")
    result = {"seed": seed, "quiet_blocks": task.quiet, **refs, **{k: found.pop(k) for k in scores}}
    result["rows"]["coronet"] = found
    print(f"seed {seed}: target {refs['target_ratio']:.3f}; error oracle "
          f"{refs['rows']['oracle']['error']:.4f}, uniform {refs['rows']['uniform']['error']:.4f}, coronet "
          f"{found['error']:.4f}; recovered {result['recovered']:.2f}, spearman {result['spearman']:.2f}",
          flush=True)
    return result


# ----------------------------------------------------------------------------- the table
CRITERION = {"oracle_over_uniform": 0.7, "recovered": 0.6, "spearman": 0.7}


def planted_table() -> list[str]:
    seeds = load("planted.json")["seeds"]
    ratio = max(r["oracle_over_uniform"] for r in seeds)
    recovered, spearman = [r["recovered"] for r in seeds], [r["spearman"] for r in seeds]
    passed = (ratio <= CRITERION["oracle_over_uniform"] and min(recovered) >= CRITERION["recovered"]
              and min(spearman) >= CRITERION["spearman"])
    row = ["coronet", str(len(seeds)), f"{ratio:.2f}"]
    row += [" / ".join(f"{v:.2f}" for v in values).replace("-", MINUS) for values in (recovered, spearman)]
    row += ["yes" if passed else "no", source("planted.json")]
    return table(["search", "seeds", "oracle / uniform error (worst seed)",
                  "share of the oracle's advantage recovered, per seed", "Spearman of keep ratios, per seed",
                  "meets the criterion", "source"], [row])


TABLES = {"planted": planted_table}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--quiet-scale", type=float, default=0.05)
    p.add_argument("--min-channels", type=int, default=4)
    p.add_argument("--noise", type=float, default=0.05, help="std of the noise on the training targets")
    p.add_argument("--train-images", type=int, default=64)
    p.add_argument("--test-images", type=int, default=32)
    p.add_argument("--steps", type=int, default=400, help="training steps of every row (search included)")
    p.add_argument("--search-steps", type=int, default=200, help="coronet's search budget")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--hypernet", default="lean", choices=FORMS, help="the search's hypernetwork form")
    p.add_argument("--hyper-lr-scale", type=float, default=0.1,
                   help="the hypernetworks' share of the lr in the search (default: as from a dense model)")
    p.add_argument("--shrink", type=float, default=ControllerConfig.shrink, help="the controller's L1 step")
    p.add_argument("--importance-decay", type=float, default=ControllerConfig.importance_decay)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS / "planted.json")
    return p


def defaults() -> argparse.Namespace:
    """The benchmark's settings as its command line defaults them (ablation.py runs the same task)."""
    return parser().parse_args([])


def main() -> None:
    args = parser().parse_args()
    torch.set_num_threads(args.threads)
    seeds = [run_seed(args, s) for s in args.seeds]
    write_result(args.out, {"benchmark": "planted", "config": {k: str(v) if isinstance(v, Path) else v
                                                               for k, v in vars(args).items()},
                            "environment": environment(), "seeds": seeds},
                 TABLES if args.out.name == "planted.json" else None)


if __name__ == "__main__":
    main()
