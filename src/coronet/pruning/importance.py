"""How much each channel of a trained dense generator matters, by the size of its filters.

Magnitude pruning keeps the channels with the largest filter L1 norms; the hypernetwork can start
its latents at the same norms, so that its L1 step removes the weakest channels first.
"""

from __future__ import annotations

import torch

from coronet.models.base import Generator


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
