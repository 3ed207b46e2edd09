"""Where a run stands: its phase, its step counters and place in the data, time and search history.

Every field is saved in the checkpoint under its own name and restored on resume; the networks,
optimisers and random state are saved beside it (`Trainer.state_dict`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

# the phases of a run, in order: compress searches then fine-tunes, train trains once
PLANS = {True: ("search", "finetune", "done"), False: ("train", "done")}


@dataclass
class Progress:
    phase: str
    step: int = 0  # optimiser steps so far, all phases
    phase_step: int = 0  # of the current phase
    epoch: int = 0  # the place in the training data
    batch_in_epoch: int = 0
    timing: dict[str, float] = field(default_factory=lambda: {
        "search_s": 0.0, "export_s": 0.0, "finetune_s": 0.0, "train_s": 0.0})
    steps_done: dict[str, int] = field(default_factory=lambda: {"search": 0, "finetune": 0, "train": 0})
    history: list[dict[str, Any]] = field(default_factory=list)  # cost ratios per search step

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.step, self.phase_step = state["phase"], state["step"], state["phase_step"]
        self.epoch, self.batch_in_epoch = state["epoch"], state["batch_in_epoch"]
        self.timing.update(state["timing"])
        self.steps_done.update(state["steps_done"])
        self.history = list(state["history"])

    def count_step(self, seconds: float) -> None:
        self.step += 1
        self.phase_step += 1
        self.steps_done[self.phase] += 1
        self.timing[f"{self.phase}_s"] += seconds


def epoch_order(items: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """This process's share of one epoch's shuffled order: the same on every run with this seed."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(items, generator=g).tolist()[rank::world]


def training_batches(dataset: Dataset, batch_size: int, num_workers: int, seed: int, progress: Progress,
                     rank: int = 0, world: int = 1) -> Iterator[dict]:
    """Endless training batches, from `progress`'s place in the data on (so a resumed run sees the
    batches it would have seen), advancing that place as it goes."""
    while True:
        dataset.set_epoch(progress.epoch)
        order = epoch_order(len(dataset), seed, progress.epoch, rank, world)
        rest = order[progress.batch_in_epoch * batch_size:]
        loader = DataLoader(Subset(dataset, rest), batch_size=batch_size, shuffle=False,
                            num_workers=num_workers)
        for batch in loader:
            progress.batch_in_epoch += 1
            yield batch
        progress.epoch += 1
        progress.batch_in_epoch = 0
