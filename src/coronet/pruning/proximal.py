"""The proximal operator of gamma * ||z||_1: the L1 step DHP applies after each optimizer step."""

from __future__ import annotations

import torch


@torch.no_grad()
def soft_threshold_(z: torch.Tensor, amount: float, where: torch.Tensor | None = None) -> None:
    """In place: z <- sign(z) * max(|z| - amount, 0), only at `where` (a bool mask) if given."""
    shrunk = torch.sign(z) * torch.clamp(z.abs() - amount, min=0.0)
    if where is None:
        z.copy_(shrunk)
    else:
        z.copy_(torch.where(where, shrunk, z))
