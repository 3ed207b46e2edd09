"""Export-time rewrites that let a phone runtime run the whole generator in its fast CPU backend.

ExecuTorch's XNNPACK delegate takes neither reflection padding (it becomes index ops) nor
instance norm, so the lowered program stops at the first one. Each is replaced here by ops the
delegate does take, computing the same values: reflection padding by slices and concatenation,
instance norm by its mean / variance / rsqrt formula (a module of its own, so INT8 quantisation can
leave it in float). `rewrite_for_mobile` returns a copy; the generator itself is not changed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class SlicedReflectionPad2d(nn.Module):
    """`nn.ReflectionPad2d` as slices and one concatenation per axis."""

    def __init__(self, padding: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.left, self.right, self.top, self.bottom = padding

    @staticmethod
    def _reflect(x: torch.Tensor, before: int, after: int, dim: int) -> torch.Tensor:
        n = x.shape[dim]
        parts = [x.narrow(dim, i, 1) for i in range(before, 0, -1)]  # x[before], ..., x[1]
        parts.append(x)
        parts += [x.narrow(dim, n - 1 - i, 1) for i in range(1, after + 1)]  # x[n-2], ..., x[n-1-after]
        return torch.cat(parts, dim=dim) if len(parts) > 1 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._reflect(x, self.left, self.right, dim=3)
        return self._reflect(x, self.top, self.bottom, dim=2)


class ExplicitInstanceNorm2d(nn.Module):
    """`nn.InstanceNorm2d` (without running statistics) written out: biased variance, as PyTorch."""

    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        self.eps = norm.eps
        self.weight = norm.weight
        self.bias = norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=(2, 3), keepdim=True)
        y = centred * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def rewrite_for_mobile(generator: nn.Module) -> nn.Module:
    """A copy of `generator` (eval mode) with every reflection pad and instance norm rewritten."""
    model = copy.deepcopy(generator).eval()
    for name, module in list(model.named_modules()):
        replacement = None
        if isinstance(module, nn.ReflectionPad2d):
            replacement = SlicedReflectionPad2d(tuple(module.padding))
        elif isinstance(module, nn.InstanceNorm2d):
            if module.track_running_stats:
                raise ValueError(f"{name}: instance norm with running statistics is not supported")
            replacement = ExplicitInstanceNorm2d(module)
        if replacement is not None:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, replacement)
    return model
