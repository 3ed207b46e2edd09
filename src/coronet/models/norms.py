"""Normalisation layers and weight initialisation as pytorch-CycleGAN-and-pix2pix defines them."""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

from coronet.errors import ConfigError

NORMS = ("instance", "batch", "none")


def norm_factory(norm: str) -> tuple[Callable[[int], nn.Module], bool]:
    """Return (make_norm(channels), conv_bias) for a norm name.

    Convolutions carry a bias exactly when the norm is InstanceNorm, as in the reference code
    (a BatchNorm's shift makes the bias redundant; with no norm the reference also drops it).
    """
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False), True
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True), False
    if norm == "none":
        return (lambda channels: nn.Identity()), False
    raise ConfigError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> None:
    """Initialise conv weights N(0, gain), biases 0, BatchNorm scale N(1, gain) (reference default)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if init_type == "normal":
                nn.init.normal_(m.weight, 0.0, gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=gain)
            else:
                raise ConfigError(f"unknown init {init_type!r}")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
