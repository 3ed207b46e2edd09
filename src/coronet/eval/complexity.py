"""MACs and parameters of a built model, counted the way GAN Compression, OMGD and CAT count them.

MACs come from `torchprofile.profile_macs` on a 1x3xHxW input in eval mode (GAN Compression's
`profile`), so numbers are comparable with the published tables; the counter's version is part of
every report because its norm rules changed between releases (docs/method.md).
"""

from __future__ import annotations

import warnings
from importlib.metadata import version

import torch
from torch import nn

COUNTER = f"torchprofile {version('torchprofile')}"

# ops torchprofile reports as unhandled although they cost nothing in its convention:
# `aten::pad` (how torch traces ReflectionPad2d) and the in-place leaky ReLU of the reference U-Net
_KNOWN_SKIPPED = ('"aten::pad"', '"aten::leaky_relu_"')


def count_macs(model: nn.Module, input_size: tuple[int, int], in_channels: int = 3) -> int:
    """torchprofile MACs for one image, the model in eval mode (restored afterwards)."""
    from torchprofile import profile_macs

    was_training = model.training
    device = next(model.parameters()).device
    x = torch.zeros(1, in_channels, *input_size, device=device)
    model.eval()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            macs = int(profile_macs(model, (x,)))
    finally:
        model.train(was_training)
    for w in caught:
        text = str(w.message)
        if not any(op in text for op in _KNOWN_SKIPPED):
            warnings.warn(f"torchprofile: {text}", stacklevel=2)
    return macs


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
