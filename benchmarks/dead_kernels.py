"""What a channel still carries when it dies: unmasked kernels of dead against alive channels.

The latent layer is Z = z_out z_in^T + B0, so at z = 0 a kernel is generated from B0 (and the
embedding and explicit biases), not zero: the hypernetwork can keep a channel working while the
proximal step drives its latent to zero, and the mask then removes it at once. This reruns the
search phase of a baselines.py coronet row and, at the hand-over, compares per layer the norms of
the generated (unmasked) kernel rows of dead output channels with those of alive ones, and the
same for the input columns.

    python benchmarks/dead_kernels.py edges2shoes --targets 0.25 --threads 2

Writes benchmarks/results/dead_kernels_<dataset>[_seed<N>].json.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

import baselines as B
from common import environment, write_result
from coronet.gan.trainer import Trainer


class SearchOnly(Trainer):
    """Keeps the hyper-model the search hands over (the run itself goes on as usual)."""

    def _export(self) -> None:
        self.handed_over = dict(self.generators)
        super()._export()


@torch.no_grad()
def norm_ratios(hyper) -> dict[str, dict]:
    latents, out = hyper.latents, {}
    for module, layer in hyper.hyper_layers().items():
        group = layer.spec.out_group
        if group not in latents.vectors:
            continue
        kernel = layer.kernel()  # (out, in, k^2), dead channels not masked out
        alive_out, alive_in = latents.alive(group), latents.gate(layer.spec.in_groups)[1].bool()
        rows = kernel[:, alive_in].flatten(1).norm(dim=1)
        cols = kernel[alive_out].transpose(0, 1).flatten(1).norm(dim=1)
        entry = {"alive": int(alive_out.sum()), "size": len(alive_out)}
        if (~alive_out).any():
            entry["dead_over_alive_row_norm"] = float(rows[~alive_out].mean() / rows[alive_out].mean())
        if (~alive_in).any():
            entry["dead_over_alive_column_norm"] = float(cols[~alive_in].mean() / cols[alive_in].mean())
        out[module] = entry
    return out


def main() -> None:
    args = B.arguments(__doc__)
    results = Path(__file__).parent / "results"
    args.out = args.out or results / f"dead_kernels_{args.dataset}{args.seed_tag}.json"
    result = {}
    for ratio in args.targets:
        cfg = B.config(args, steps=0, ratio=ratio)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = SearchOnly(cfg, Path(tmp), compress=True)
            trainer.run()
        layers = {name: norm_ratios(hyper) for name, hyper in trainer.handed_over.items()}
        found = [v for per_layer in layers.values() for e in per_layer.values()
                 for k, v in e.items() if k.startswith("dead")]
        result[str(ratio)] = {"search_steps": trainer.steps_done["search"], "layers": layers,
                              "median_ratio": statistics.median(found), "min": min(found), "max": max(found)}
        print(f"{ratio}: dead/alive kernel norm median {statistics.median(found):.3f} "
              f"(range {min(found):.3f}-{max(found):.3f}) after {trainer.steps_done['search']} search steps")
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {"benchmark": f"dead_kernels_{args.dataset}", "config": config_out,
                            "environment": environment(), "targets": result})


if __name__ == "__main__":
    main()
