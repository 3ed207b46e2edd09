"""Where the hyper-model's extra training-step time goes on a GPU (diagnostic, CUDA only).

For the dense generator and the hyper-model (ResNet-9 ngf 64, 256x256, batch 1, the models of
`train_step.py`): the median time of each part of the step (forward, backward, Adam, controller)
over 20 steps, written as JSON, and a PyTorch profile of 3 whole steps, printed as the top ops by
GPU time and by CPU time (kernel launch counts are in the CPU table, `cudaLaunchKernel`).

    python benchmarks/gpu_profile.py --out gpu_profile.json > gpu_profile.txt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import train_step

DEVICE = "cuda"


def now() -> float:
    torch.cuda.synchronize()
    return time.perf_counter()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu_profile.json")
    args = p.parse_args()
    ns = argparse.Namespace(netG="resnet_9blocks", ngf=64, size=256, embedding=8, device=DEVICE)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 256, 256, generator=g).to(DEVICE)
    y = torch.tanh(torch.randn(1, 3, 256, 256, generator=g)).to(DEVICE)
    out = {}
    for name, make in (("dense", train_step.make_dense), ("hyper", train_step.make_hyper)):
        model, opt, ctl = make(ns)
        for _ in range(5):
            train_step.step(model, opt, ctl, x, y, DEVICE)
        parts: dict[str, list[float]] = {"fwd": [], "bwd": [], "adam": [], "ctl": []}
        for _ in range(20):
            a = now()
            opt.zero_grad(set_to_none=True)
            loss = (model(x) - y).abs().mean()
            b = now()
            loss.backward()
            c = now()
            opt.step()
            d = now()
            if ctl is not None:
                ctl.step(2e-4)
            e = now()
            for part, seconds in zip(parts, (b - a, c - b, d - c, e - d), strict=True):
                parts[part].append(seconds)
        out[name] = {part: round(1e3 * sorted(v)[len(v) // 2], 2) for part, v in parts.items()}
        print(name, out[name], "ms", flush=True)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                train_step.step(model, opt, ctl, x, y, DEVICE)
        table = prof.key_averages().table
        print(table(sort_by="self_cuda_time_total", row_limit=14, max_name_column_width=40), flush=True)
        print(table(sort_by="self_cpu_time_total", row_limit=10, max_name_column_width=40), flush=True)
        del model, opt, ctl
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
