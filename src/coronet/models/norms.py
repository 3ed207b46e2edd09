"""Normalisation layers and weight initialisation as pytorch-CycleGAN-and-pix2pix defines them."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import torch
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


@torch.no_grad()
def match_normalised_scales(net: nn.Module, reference: nn.Module) -> int:
    """Rescale every conv that feeds a norm layer to the weight norm `reference` has there.

    A norm divides its input's scale out, so the network computes the same function afterwards
    (up to the norm's eps, which is small beside the variance of a conv output at real widths),
    but Adam moves every weight by about the same step whatever its size: a conv whose weights grew
    (a hypernetwork's output after the search) learns as many times slower as it is larger. This
    gives such a network the learning speed of a fresh initialisation without forgetting what it
    learned. Convs not followed by a norm (the output layer) keep their scale. Returns how many
    convs were rescaled; `reference` must have the same module names (a fresh copy of `net`).
    """
    ref = dict(reference.named_modules())
    rescaled = 0
    for prefix, seq in net.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        children = list(seq.named_children())
        for (name, conv), (_, norm) in itertools.pairwise(children):
            if not (isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d))
                    and isinstance(norm, (nn.InstanceNorm2d, nn.BatchNorm2d))):
                continue
            scale = ref[f"{prefix}.{name}" if prefix else name].weight.norm() / conv.weight.norm()
            conv.weight.mul_(scale)
            if conv.bias is not None:
                conv.bias.mul_(scale)
            if norm.track_running_stats:
                norm.running_mean.mul_(scale)
                norm.running_var.mul_(scale**2)
            rescaled += 1
    return rescaled
