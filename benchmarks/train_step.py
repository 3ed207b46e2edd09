"""One training step of the hyper-model against the dense generator, side by side.

Step = zero_grad, forward, L1 loss, backward, Adam (fused), and for the hyper-model the proximal
L1 step with mask and budget update. The two models alternate step by step in one process, so a
noisy machine slows both alike; the ratio of medians is the result.

    python benchmarks/train_step.py                    # ResNet-9 ngf=64, 256x256, batch 1, CPU
    python benchmarks/train_step.py --ngf 16 --size 64 --reps 5   # a quick look
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import torch

from common import environment, rss_bytes, summary, write_result
from coronet.models import get_generator
from coronet.pruning import BudgetController, BudgetTarget, hypernetize, resolve_budget

LR = 2e-4


def make_dense(args):
    torch.manual_seed(0)
    g = get_generator(args.netG, ngf=args.ngf).to(args.device)
    opt = torch.optim.Adam(g.parameters(), lr=LR, betas=(0.5, 0.999), fused=True)
    return g, opt, None


def make_hyper(args):
    torch.manual_seed(0)
    h = hypernetize(get_generator(args.netG, ngf=args.ngf), embedding_dim=args.embedding).to(args.device)
    opt = torch.optim.Adam(h.parameters(), lr=LR, betas=(0.5, 0.999), fused=True)
    cost = h.cost_model((args.size, args.size))
    budget = resolve_budget(BudgetTarget("macs", ratio=0.25), cost, min_channels=4)
    ctl = BudgetController(h.latents, cost, budget, search_steps=10_000, lr=LR)
    return h, opt, ctl


def step(model, opt, ctl, x, y, device) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = (model(x) - y).abs().mean()
    loss.backward()
    opt.step()
    if ctl is not None:
        ctl.step(LR)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--netG", default="resnet_9blocks")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--embedding", type=int, default=8)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_step.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gc.collect()
    rss0 = rss_bytes()
    dense = make_dense(args)
    rss_dense = rss_bytes()
    hyper = make_hyper(args)
    rss_hyper = rss_bytes()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=g).to(args.device)
    y = torch.tanh(torch.randn(args.batch, 3, args.size, args.size, generator=g)).to(args.device)
    for _ in range(args.warmup):  # also allocates gradients and Adam state
        step(*dense, x, y, args.device)
        step(*hyper, x, y, args.device)
    rss_after = rss_bytes()
    times = {"dense": [], "hyper": []}
    for _ in range(args.reps):
        times["dense"].append(step(*dense, x, y, args.device))
        times["hyper"].append(step(*hyper, x, y, args.device))

    h = hyper[0]
    n_dense = sum(p.numel() for p in dense[0].parameters())
    n_hypernet = sum(p.numel() for p in h.hypernetwork_parameters())
    n_hyper_total = sum(p.numel() for p in h.parameters())
    bytes_per_param = 4 * 4  # fp32 value + gradient + Adam's two moments
    result = {
        "benchmark": "train_step",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": environment(),
        "dense": summary(times["dense"]),
        "hyper": summary(times["hyper"]),
        "ratio_hyper_over_dense": summary(times["hyper"])["median_s"] / summary(times["dense"])["median_s"],
        "params": {"dense_generator": n_dense, "hypernetwork": n_hypernet,
                   "hyper_model_total": n_hyper_total,
                   "hypernetwork_over_dense": n_hypernet / n_dense},
        "memory": {
            "training_state_bytes_dense": n_dense * bytes_per_param,
            "training_state_bytes_hyper": n_hyper_total * bytes_per_param,
            "rss_build_dense_bytes": rss_dense - rss0,
            "rss_build_hyper_bytes": rss_hyper - rss_dense,
            "rss_process_after_warmup_bytes": rss_after,
        },
        "raw_s": times,
    }
    write_result(args.out, result)
    print(f"dense {result['dense']['median_s']:.3f}s  hyper {result['hyper']['median_s']:.3f}s  "
          f"ratio {result['ratio_hyper_over_dense']:.3f}  hypernetwork {n_hypernet:,} params "
          f"({n_hypernet / n_dense:.1f}x the generator)")


if __name__ == "__main__":
    main()
