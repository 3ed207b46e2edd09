"""How far one Adam step moves a generated kernel, per hypernetwork form, at the same learning rate.

DHP's three layers are linear, so they generate the same kernels as the lean form; what differs is
the optimiser's geometry: a kernel entry sums the moves of its m embedding weights. This measures
the mean absolute change of every layer's kernel over a few Adam steps on one batch (ResNet-9 ngf 16,
64x64, L1 towards a fixed target), from scratch and from a dense model, and reports DHP's move over
the lean form's, layer by layer.

    python benchmarks/pace.py        # writes benchmarks/results/pace.json
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from common import environment, write_result
from coronet.models import get_generator
from coronet.pruning import hypernetize, lr_groups
from coronet.pruning.hyperconv import FORMS


def kernel_moves(form: str, init: str, steps: int, lr: float, ngf: int, size: int) -> dict[str, float]:
    torch.manual_seed(0)
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=ngf), form=form, init=init)
    opt = torch.optim.Adam(lr_groups([hyper], 1.0), lr=lr, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(2, 3, size, size, generator=g), torch.tanh(torch.randn(2, 3, size, size, generator=g))
    layers = hyper.hyper_layers()
    with torch.no_grad():
        before = {n: layer.masked_weight_and_bias()[0].clone() for n, layer in layers.items()}
    for _ in range(steps):
        opt.zero_grad()
        (hyper(x) - y).abs().mean().backward()
        opt.step()
    with torch.no_grad():
        return {n: float((layer.masked_weight_and_bias()[0] - before[n]).abs().mean())
                for n, layer in layers.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pace.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    result = {}
    for init in ("scratch", "dense"):
        moves = {form: kernel_moves(form, init, args.steps, args.lr, args.ngf, args.size) for form in FORMS}
        lean = moves["lean"]
        result[init] = {
            "lean_move_per_step_over_lr": statistics.median(lean.values()) / (args.steps * args.lr),
            **{f"{form}_over_lean": {"median": statistics.median(r), "min": min(r), "max": max(r)}
               for form in FORMS if form != "lean" for r in [[moves[form][n] / lean[n] for n in lean]]},
            "moves": moves}
        print(f"{init}: DHP / lean {result[init]['dhp_over_lean']['median']:.2f} (median over layers)")
    write_result(args.out, {"benchmark": "pace", "config": {k: str(v) for k, v in vars(args).items()},
                            "environment": environment(), "result": result})


if __name__ == "__main__":
    main()
