"""How far one Adam step moves a generated kernel, against a plain convolution's weights.

Adam moves every parameter by about lr per step whatever its gradient's size. A generated kernel
entry K[i,j,:] = (Z[i,j] W1[i,j,:] + B1[i,j,:]) @ W2[i,j] + B2[i,j,:] sums the moves of m embedding
weights, so the hypernetwork form trains the generator with a larger effective step than the
dense model gets at the same lr. This measures it: one Adam step (lr 2e-4, betas 0.5/0.999) on a
random linear loss of the output, for the dense ResNet-9 and for its hypernetwork form with DHP's
N(0, 1) latents and with flat latents, at `train.hyper_lr_scale` 1.0 and 0.2. Per layer: mean |dK| / lr
and mean |dK| / mean |K|; the median and range over layers are written.

    python benchmarks/kernel_step.py            # seconds; ResNet-9 ngf 32, 64x64 input

Writes benchmarks/results/kernel_step.json.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from torch import nn

from common import environment, write_result
from coronet.models import get_generator
from coronet.pruning import hypernetize, lr_groups

LR = 2e-4


def one_step(model: nn.Module, kernels, groups) -> list[tuple[float, float]]:
    """(mean |dK| / lr, mean |dK| / mean |K|) per layer after one Adam step."""
    torch.manual_seed(1)
    x, direction = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    before = [k().detach().clone() for k in kernels]
    for group in groups:
        group["lr"] = LR * group["lr_scale"]
    opt = torch.optim.Adam(groups, lr=LR, betas=(0.5, 0.999))
    (model(x) * direction).mean().backward()
    opt.step()
    out = []
    for k, b in zip(kernels, before, strict=True):
        move = float((k().detach() - b).abs().mean())
        out.append((move / LR, move / float(b.abs().mean())))
    return out


def summary(per_layer: list[tuple[float, float]]) -> dict:
    steps, relative = zip(*per_layer, strict=True)
    return {"step_over_lr": {"median": statistics.median(steps), "min": min(steps), "max": max(steps)},
            "relative_step": {"median": statistics.median(relative), "min": min(relative),
                              "max": max(relative)},
            "layers": len(per_layer)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kernel_step.json")
    args = p.parse_args()
    rows = {}
    torch.manual_seed(0)
    dense = get_generator("resnet_9blocks", ngf=args.ngf)
    convs = [m for m in dense.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    rows["dense conv"] = summary(one_step(dense, [lambda c=c: c.weight for c in convs], lr_groups([dense])))
    for latent_init in ("normal", "ones"):
        for scale in (1.0, 0.2):
            torch.manual_seed(0)
            hyper = hypernetize(get_generator("resnet_9blocks", ngf=args.ngf), latent_init=latent_init)
            groups = lr_groups([hyper], scale)  # the trainer's grouping
            kernels = [layer.kernel for layer in hyper.hyper_layers().values()]
            rows[f"hyper latents={latent_init} hyper_lr_scale={scale:g}"] = summary(
                one_step(hyper, kernels, groups))
    for name, r in rows.items():
        s, rel = r["step_over_lr"], r["relative_step"]
        print(f"{name:42s} |dK|/lr median {s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})  "
              f"|dK|/|K| median {rel['median']:.4f}")
    config = {"ngf": args.ngf, "lr": LR, "input": [64, 64]}
    write_result(args.out, {"benchmark": "kernel_step", "config": config, "environment": environment(),
                            "rows": rows})


if __name__ == "__main__":
    main()
