"""Extension points of the training loop: subclass `Callback`, override what you need, and pass it
to `Trainer(..., callbacks=[...])`. Baselines, benchmarks and tests use these instead of reaching
into the trainer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from coronet.gan.trainer import Trainer


class Callback:
    def on_step_end(self, trainer: Trainer, values: dict[str, float]) -> None:
        """After every optimiser step, once the trainer has logged and checkpointed it. `values` are
        the step's scalars (losses, learning rates, cost ratios)."""

    def on_handover(self, trainer: Trainer, name: str, hyper: nn.Module, compact: nn.Module) -> nn.Module:
        """When the search ends: `compact` is exported from `hyper` and checked; the module returned
        is what fine-tunes (return `compact` to keep it)."""
        return compact
