"""The picture a run logs and reports: its generators on a few fixed test images."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from coronet.data import to_uint8

SAMPLES = 4


def fixed_batch(dataset: Dataset, count: int = SAMPLES) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(min(count, len(dataset)))]
    return {k: torch.stack([it[k] for it in items]) for k in ("A", "B")}


@torch.no_grad()
def sample_grid(generators: dict[str, nn.Module], batch: dict[str, torch.Tensor],
                device: torch.device) -> np.ndarray:
    """Rows for the fixed sample images (uint8 HWC). Pix2Pix: input | output | target.
    CycleGAN (no target exists): input | translated | translated back by the other generator."""
    rows = []
    for name in generators:
        src, tgt = ("B", "A") if name == "G_B" else ("A", "B")
        x = batch[src].to(device)
        out = eval_output(generators[name], x)
        if len(generators) == 2:
            third = eval_output(generators["G_A" if name == "G_B" else "G_B"], out).cpu()
        else:
            third = batch[tgt]
        out = out.cpu()
        for i in range(out.shape[0]):
            rows.append(np.concatenate([to_uint8(x[i]), to_uint8(out[i]), to_uint8(third[i])], axis=1))
    return np.concatenate(rows, axis=0)


def eval_output(generator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The generator's output in eval mode, without its compiled call (`train.compile`: `forward`
    bypasses it; samples run without gradients, which a compiled generator would compile again for)."""
    was = generator.training
    generator.eval()
    out = generator.forward(x)
    generator.train(was)
    return out
