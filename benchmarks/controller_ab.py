"""The budget controller before and after a change, side by side on one device.

The hyper-model (ResNet-9 ngf 64, 256x256, batch 1) trains one generator step and then takes the
controller step, twice over: once with `coronet.pruning.controller` and `LatentVectors.widths` /
`set_alive` as they were at --before (read with `git show`), once as they are now. The two models
alternate step by step; the search is short (200 steps) so that channels die during the timed
steps, as in a real search. Both must end on the same widths.

    python benchmarks/controller_ab.py --before d26ea3487e02 --out benchmarks/results/controller_ab_h200.json

Made for the change that copies the controller's reads to the host in one transfer: on a GPU each
read of a device tensor waits for the device, and the controller read every group separately.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

from common import environment, write_result
from coronet.models import get_generator
from coronet.pruning import BudgetController, BudgetTarget, hypernetize, resolve_budget

ROOT = Path(__file__).resolve().parents[1]


def module_at(rev: str, path: str, name: str, folder: Path) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def make(old: tuple[types.ModuleType, types.ModuleType] | None, args):
    torch.manual_seed(0)
    h = hypernetize(get_generator("resnet_9blocks", ngf=args.ngf), embedding_dim=8).to(args.device)
    controller_cls = BudgetController
    if old is not None:
        old_controller, old_latents = old
        h.latents.widths = types.MethodType(old_latents.LatentVectors.widths, h.latents)
        h.latents.set_alive = types.MethodType(old_latents.LatentVectors.set_alive, h.latents)
        controller_cls = old_controller.BudgetController
    opt = torch.optim.Adam(h.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    cost = h.cost_model((args.size, args.size))
    budget = resolve_budget(BudgetTarget("macs", ratio=0.25), cost, min_channels=4)
    return h, opt, controller_cls(h.latents, cost, budget, search_steps=200, lr=2e-4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="git revision of the controller to compare with")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "controller_ab.json")
    args = p.parse_args()

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory() as tmp:
        old = (module_at(args.before, "src/coronet/pruning/controller.py", "controller_before", Path(tmp)),
               module_at(args.before, "src/coronet/pruning/latents.py", "latents_before", Path(tmp)))
        models = {"before": make(old, args), "after": make(None, args)}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, args.size, args.size, generator=g).to(args.device)
    y = torch.tanh(torch.randn(1, 3, args.size, args.size, generator=g)).to(args.device)
    times = {k: {"step": [], "controller": []} for k in models}
    for i in range(args.warmup + args.steps):
        for name, (h, opt, ctl) in models.items():
            sync()
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            (h(x) - y).abs().mean().backward()
            opt.step()
            sync()
            between = time.perf_counter()
            ctl.step(2e-4)
            sync()
            if i >= args.warmup:
                times[name]["step"].append(time.perf_counter() - start)
                times[name]["controller"].append(time.perf_counter() - between)

    def median_ms(values: list[float]) -> float:
        return 1e3 * sorted(values)[len(values) // 2]

    result = {name: {part: median_ms(v) for part, v in parts.items()} for name, parts in times.items()}
    widths = {name: m[2].status().widths for name, m in models.items()}
    result.update({
        "same_widths": widths["before"] == widths["after"],
        "widths_after": widths["after"],
        "ratio_step_before_over_after": result["before"]["step"] / result["after"]["step"],
        "ratio_controller_before_over_after": result["before"]["controller"] / result["after"]["controller"],
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": environment(),
    })
    write_result(args.out, result)
    print(f"step {result['before']['step']:.1f} -> {result['after']['step']:.1f} ms, controller "
          f"{result['before']['controller']:.2f} -> {result['after']['controller']:.2f} ms, "
          f"same widths: {result['same_widths']}")


if __name__ == "__main__":
    main()
