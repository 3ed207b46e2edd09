"""What a run hands to its report: typed records, so that nothing outside the trainer reads its
internals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from coronet.config import RunConfig
from coronet.pruning import Budget


@dataclass(frozen=True)
class Handover:
    """A generator at the end of its search: the compact model exported from the hyper-model."""

    widths: dict[str, int]
    export_max_abs_diff: float  # compact against masked hyper-model, on the sample images
    macs: int
    params: int
    achieved_ratio: float  # in the target's metric
    forced_landing: bool  # the search budget ran out and the ranking closed the gap
    search_steps: int
    search: dict[str, Any]  # did the search choose its widths? `handover.search_diagnostics`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Handover:
        return cls(**data)


@dataclass(frozen=True)
class GeneratorSummary:
    generator: nn.Module  # the final generator: compact after a search, dense after `train`
    dense_macs: int
    dense_params: int
    budget: Budget | None = None  # the landing window (compress runs)
    handover: Handover | None = None  # what the search exported (compress runs)


@dataclass(frozen=True)
class RunSummary:
    config: RunConfig
    compress: bool
    phase: str
    step: int
    timing: dict[str, float]  # seconds per phase: search_s, export_s, finetune_s, train_s
    steps: dict[str, int]  # optimiser steps per phase: search, finetune, train
    generators: dict[str, GeneratorSummary]
    history: list[dict[str, float]] = field(default_factory=list)  # cost ratio per search step
    samples: np.ndarray | None = None  # the sample grid (uint8 HWC), input | output | target rows
    warnings: list[str] = field(default_factory=list)  # a collapse the run saw (`health.Health`)
