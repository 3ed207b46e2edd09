"""Latent vectors, one per channel group, and the alive mask of every channel.

The mask is state, not a function of |z|: a channel dies when the budget controller removes it,
and it never comes back. Keeping the mask explicit is what lets the controller stop exactly on the
target and lets a dead channel contribute exactly zero from the step it dies (what you search is
what you get). Each group's mask enters the network through a probe, a vector of ones that records
a gradient: d(loss)/d(probe[c]) is the first-order change of the loss if channel c were removed,
the evidence the controller ranks channels by (docs/method.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from coronet.models.layout import LatentGroup


class GroupTensors(nn.Module):
    """One tensor per channel group, as buffers of this module (torch has no buffer dict): saved in
    state dicts as `<owner>.<group>` when persistent, moved by `.to()` with the module."""

    def __init__(self, tensors: dict[str, torch.Tensor], persistent: bool) -> None:
        super().__init__()
        for name, tensor in tensors.items():
            self.register_buffer(name, tensor, persistent=persistent)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._buffers[name]

    def __setitem__(self, name: str, tensor: torch.Tensor) -> None:
        self._buffers[name] = tensor


class LatentVectors(nn.Module):
    """z (trainable) and alive mask (buffer) per prunable group; ones for never-pruned groups."""

    def __init__(self, groups: Iterable[LatentGroup], init: str = "normal") -> None:
        super().__init__()
        self.groups = {g.name: g for g in groups}
        prunable = [g for g in self.groups.values() if g.prunable]
        # pairs, not a dict: a ParameterDict sorts a dict's keys, and the layout order is the
        # parameters' order in the optimiser (and in every checkpoint)
        self.vectors = nn.ParameterDict([(g.name, nn.Parameter(torch.randn(g.size) if init == "normal"
                                                               else torch.ones(g.size))) for g in prunable])
        self.alive_masks = GroupTensors({g.name: torch.ones(g.size, dtype=torch.bool) for g in prunable},
                                        persistent=True)
        # a vector of ones per group that records d(loss)/d(mask): the evidence of the ranking
        self.probes = GroupTensors({g.name: torch.ones(g.size).requires_grad_() for g in prunable},
                                   persistent=False)
        # the image channels: a constant ones-vector, neither trained nor pruned
        self.fixed = GroupTensors({g.name: torch.ones(g.size) for g in self.groups.values()
                                   if not g.prunable}, persistent=False)
        self._on_host: dict[str, torch.Tensor] | None = None  # the masks' CPU copy, made when read

    def vector(self, name: str) -> torch.Tensor:
        if name in self.vectors:
            return self.vectors[name]
        return self.fixed[name]

    def alive(self, name: str) -> torch.Tensor:
        """Boolean alive mask of a group (all True for never-pruned groups)."""
        if name in self.vectors:
            return self.alive_masks[name]
        return torch.ones_like(self.fixed[name], dtype=torch.bool)

    def set_alive(self, name: str, mask: torch.Tensor) -> None:
        if name not in self.vectors:
            raise ValueError(f"group {name!r} is never pruned")
        buf = self.alive_masks[name]
        if mask.shape != buf.shape or not bool(mask.any()):
            raise ValueError(f"mask for {name!r} must have shape {tuple(buf.shape)} and keep >= 1")
        buf.copy_(mask.to(torch.bool))
        if self._on_host is not None:  # no device read when the mask came from the host
            self._on_host[name] = mask.detach().to("cpu", torch.bool).clone()
        with torch.no_grad():
            self.vectors[name].masked_fill_(~buf, 0.0)

    def mask(self, name: str) -> torch.Tensor:
        """The float alive mask of a group as the network applies it: times the group's probe, so
        that the loss's gradient reaches the probe (the values are exactly 0 and 1)."""
        alive = self.alive(name).to(self.vector(name).dtype)
        if name in self.vectors and torch.is_grad_enabled():
            return alive * self._probe(name)
        return alive

    def _probe(self, name: str) -> torch.Tensor:
        probe = self.probes[name]
        if not probe.is_leaf:  # moved to another device by `.to()`, which is not a leaf any more
            probe = self.probes[name] = probe.detach().requires_grad_()
        return probe

    def gate(self, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, float alive mask) of the concatenation of `names`, in order."""
        if len(names) == 1:
            return self.vector(names[0]), self.mask(names[0])
        return torch.cat([self.vector(n) for n in names]), torch.cat([self.mask(n) for n in names])

    def take_probe_gradients(self) -> dict[str, torch.Tensor]:
        """Per prunable group, d(loss)/d(mask) accumulated since the last call (zeros if none), and
        reset to none."""
        out = {}
        for name in self.vectors:
            probe = self._probe(name)
            out[name] = probe.grad.detach().clone() if probe.grad is not None else torch.zeros_like(probe)
            probe.grad = None
        return out

    def alive_on_host(self, name: str) -> torch.Tensor:
        """The alive mask of a prunable group on the CPU. All groups' masks come to the host together
        once and the copy follows `set_alive`: the controller reads them several times a step, and
        on a GPU each read of a device mask would wait for the device."""
        if self._on_host is None:
            names = list(self.vectors)
            flat = torch.cat([self.alive(n) for n in names]).cpu()
            self._on_host = dict(zip(names, flat.split([self.groups[n].size for n in names]), strict=True))
        return self._on_host[name]

    def widths(self) -> dict[str, int]:
        """Alive channel count per group (dense size for never-pruned groups)."""
        return {n: int(self.alive_on_host(n).sum()) if n in self.vectors else g.size
                for n, g in self.groups.items()}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        self._on_host = None  # the masks are about to be replaced
        for name in self.vectors:  # checkpoints written before `alive_masks`: `alive_<group>`
            if (old := f"{prefix}alive_{name}") in state_dict:
                state_dict[f"{prefix}alive_masks.{name}"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def keep_indices(self, name: str) -> torch.Tensor:
        return torch.nonzero(self.alive(name), as_tuple=False).flatten()
