"""Data-parallel training under `torchrun` with PyTorch's DistributedDataParallel.

Every rank holds the same models (DDP broadcasts rank 0's weights and buffers), sees its own shard
of the data, and DDP averages gradients in backward; parameters, latent vectors and therefore the
pruning decisions stay identical on every rank (checked when the search ends). Only rank 0
writes files.
"""

from __future__ import annotations

import os

import torch.distributed as dist
from torch import nn


class DistContext:
    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world

    @classmethod
    def from_environment(cls, device: str) -> DistContext:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module to train through: a DDP wrapper when distributed, else the module itself."""
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        device = next(module.parameters()).device
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)

    def same_on_all_ranks(self, value: object) -> bool:
        if not self.active:
            return True
        gathered: list[object] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return all(v == gathered[0] for v in gathered)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()
