"""Data-parallel training under `torchrun`: one process per device, gradients averaged.

Every rank holds the same models (rank 0's initial weights are broadcast), sees its own shard of
each batch, and averages gradients with `all_reduce` before the optimizer step, so parameters,
latent vectors and therefore pruning decisions stay identical on every rank; BatchNorm running
statistics are taken from rank 0 after each step, as DDP's `broadcast_buffers` does. Only rank 0
writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
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

    def broadcast_modules(self, modules: Iterable[nn.Module]) -> None:
        if not self.active:
            return
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                dist.broadcast(t.data, src=0)

    def average_gradients(self, params: Iterable[torch.Tensor]) -> None:
        if not self.active:
            return
        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(self.world)

    def broadcast_buffers(self, modules: Iterable[nn.Module]) -> None:
        if not self.active:
            return
        for m in modules:
            for name, b in m.named_buffers():
                if b.is_floating_point() or "num_batches" in name:
                    dist.broadcast(b, src=0)

    def same_on_all_ranks(self, value: object) -> bool:
        if not self.active:
            return True
        gathered: list[object] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return all(v == gathered[0] for v in gathered)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()
