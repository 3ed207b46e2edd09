"""The two baselines coronet is measured against at the same MACs.

Uniformly thinner: every prunable group keeps the same fraction of its channels (the classic
"smaller ngf"), trained from scratch. L1-norm magnitude pruning (Li et al., 2017): the same widths,
but the channels kept are those of a trained dense model whose filters have the largest L1 norm,
then fine-tuned. Both reuse the method's own machinery (cost model, masks, `materialize`), so the
only difference from coronet is how the widths and the kept channels are chosen.
"""

from __future__ import annotations

import numpy as np
import torch

from coronet.models.base import Generator
from coronet.pruning.cost import CostModel
from coronet.pruning.hypernet import hypernetize, materialize


def uniform_widths(cost: CostModel, limit: int, min_channels: int = 1,
                   metric: str = "macs") -> dict[str, int]:
    """The widest uniformly scaled widths costing at most `limit`.

    A bisection on the common scale, then single channels added group by group (largest first)
    while they fit, so the baseline lands as close under the limit as coronet does.
    """
    groups = cost.layout.groups

    def at(scale: float) -> np.ndarray:
        return np.array([max(min(min_channels, g.size), round(scale * g.size)) if g.prunable else g.size
                         for g in groups], dtype=np.int64)

    if cost.cost_vector(metric, at(0.0)) > limit:
        raise ValueError(f"no uniform network fits in {limit:,} {metric}")
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost.cost_vector(metric, at(mid)) <= limit else (lo, mid)
    w = at(lo)
    order = sorted((i for i, g in enumerate(groups) if g.prunable), key=lambda i: -groups[i].size)
    grown = True
    while grown:
        grown = False
        for i in order:
            if w[i] < groups[i].size:
                w[i] += 1
                if cost.cost_vector(metric, w) <= limit:
                    grown = True
                else:
                    w[i] -= 1
    return {g.name: int(w[i]) for i, g in enumerate(groups)}


@torch.no_grad()
def magnitude_prune(dense: Generator, widths: dict[str, int]) -> Generator:
    """The compact generator keeping, in each group, the `widths[group]` channels of largest
    filter L1 norm, with the dense model's weights (sliced exactly as coronet's export slices)."""
    if dense.widths != dense.layout.dense_widths():
        raise ValueError("magnitude pruning starts from a dense generator")
    hyper = hypernetize(dense, init="dense")
    for group, norm in filter_l1_norms(dense).items():
        keep = widths[group]
        if not 1 <= keep <= norm.numel():
            raise ValueError(f"width {keep} of group {group!r} is outside [1, {norm.numel()}]")
        mask = torch.zeros(norm.numel(), dtype=torch.bool)
        mask[torch.topk(norm, keep).indices] = True
        hyper.latents.set_alive(group, mask)
    compact = materialize(hyper).train(dense.training)
    return compact


@torch.no_grad()
def filter_l1_norms(generator: Generator) -> dict[str, torch.Tensor]:
    """Per prunable group, the L1 norm of the filters producing each channel, summed over every
    convolution writing into the group (a shared trunk channel is as important as all its writers)."""
    modules = dict(generator.named_modules())
    norms: dict[str, torch.Tensor] = {}
    for spec in generator.layout.convs:
        if not generator.layout.group(spec.out_group).prunable:
            continue
        conv = modules[spec.module]
        weight = conv.weight.detach().abs()
        transposed = isinstance(conv, torch.nn.ConvTranspose2d)
        per_channel = weight.sum(dim=(0, 2, 3)) if transposed else weight.sum(dim=(1, 2, 3))
        norms[spec.out_group] = norms.get(spec.out_group, 0) + per_channel.float()
    return norms
