"""The proximal operator of gamma * ||z||_1: the L1 step DHP and the paper apply after each optimizer
step (`prune.shrink` > 0)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def soft_threshold_(tensors: Sequence[torch.Tensor], amounts: Sequence[float]) -> None:
    """In place, each z <- sign(z) * max(|z| - amount, 0) with its own amount; all tensors together
    in a few multi-tensor operations (on a GPU, a handful of launches instead of several per
    latent group)."""
    tensors = list(tensors)
    shrunk = torch._foreach_abs(tensors)
    torch._foreach_sub_(shrunk, list(amounts))
    torch._foreach_clamp_min_(shrunk, 0.0)
    torch._foreach_mul_(shrunk, torch._foreach_sign(tensors))
    torch._foreach_copy_(tensors, shrunk)
