"""Which channels survive the search: chosen by training, or drawn at initialisation?

The latents start as N(0, 1) draws, as in DHP. For the search to *learn* which channels matter, the
gradient must move a latent further than the spread of those draws before the L1 step takes it to
the threshold. With the short schedules of the baseline table (search <= 300 steps to 25% of the
MACs) the controller needs a shrink of gamma * lr ~ 1e-2 per step, while Adam moves a latent by at
most ~lr = 2e-4 per step; DHP's own schedules shrink by ~1e-5 per step for thousands of steps.

This runs the search phase of the baseline table's coronet row (Pix2Pix, edges2shoes-mini, ResNet-9
ngf 32, 128x128, batch 2, hinge; fine-tuning skipped) and reports, per latent group, the share of the
surviving channels that were also among the k largest initial |z| (k = survivors), next to the share
expected if survival were unrelated to the initial draw (k / n). 1.0 means the survivors were fixed
by the initial draw.

    python benchmarks/survivors.py                 # seeds 0 1 2, 25% of the MACs
    python benchmarks/survivors.py --seeds 0 --ratio 0.1

Writes benchmarks/results/survivors_edges2shoes.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from baselines import DATA, SETS, config, parser
from common import environment, write_result
from coronet.gan.trainer import Trainer


def init_agreement(initial: torch.Tensor, alive: torch.Tensor) -> float:
    """Share of the survivors that are among the len(survivors) largest initial |z|."""
    k = int(alive.sum())
    top = torch.zeros_like(alive)
    top[initial.abs().topk(k).indices] = True
    return int((top & alive).sum()) / k


def search_once(args, seed: int) -> dict:
    spec = SETS["edges2shoes"]
    defaults = vars(parser().parse_args(["edges2shoes"]))  # coronet's options at their defaults
    run_args = argparse.Namespace(**{**defaults, "data": DATA / spec["folder"], "size": args.size,
                                     "batch": spec["batch"], "ngf": args.ngf, "model": spec["model"],
                                     "seed": seed, "search_steps": args.search_steps, "finetune_steps": 0})
    cfg = config(run_args, ratio=args.ratio)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), compress=True)
        latents = trainer.controllers["G_A"].latents
        initial = {name: z.detach().clone() for name, z in latents.vectors.items()}
        start = time.perf_counter()
        trainer.run()
        wall = time.perf_counter() - start
    controller = trainer.controllers["G_A"]
    survivors = latents.widths()
    groups = {name: {"size": z0.numel(), "survivors": survivors[name],
                     "agreement": init_agreement(z0, latents.alive(name)),
                     "chance": survivors[name] / z0.numel()}
              for name, z0 in initial.items()}
    agreements = [g["agreement"] for g in groups.values()]
    result = {"seed": seed, "search_steps": trainer.steps_done["search"], "search_wall_s": wall,
              "achieved_ratio": controller.status().ratio, "final_gamma": controller.gamma,
              "final_shrink_per_step": controller.gamma * cfg.train.lr, "lr": cfg.train.lr,
              "agreement_min": min(agreements), "agreement_median": statistics.median(agreements),
              "chance_median": statistics.median(g["chance"] for g in groups.values()), "groups": groups}
    print(f"seed {seed}: agreement min {result['agreement_min']:.2f} median {result['agreement_median']:.2f}"
          f" (chance median {result['chance_median']:.2f}), search {result['search_steps']} steps,"
          f" final shrink gamma*lr {result['final_shrink_per_step']:.2e}/step", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ratio", type=float, default=0.25)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--search-steps", type=int, default=SETS["edges2shoes"]["search"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path,
                   default=Path(__file__).parent / "results" / "survivors_edges2shoes.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runs = [search_once(args, seed) for seed in args.seeds]
    write_result(args.out, {"benchmark": "survivors", "environment": environment(),
                            "config": {"dataset": "edges2shoes-mini", "ratio": args.ratio, "size": args.size,
                                       "ngf": args.ngf, "search_steps": args.search_steps},
                            "runs": runs})


if __name__ == "__main__":
    main()
