"""The reference's discriminators: the 70x70 PatchGAN (`basic`, its n-layer form at n_layers=3)
and the 1x1 PixelGAN (`pixel`), which judges each pixel alone (colour, not texture).

The discriminator is trained alongside the generator but never pruned or exported.
"""

from __future__ import annotations

import torch
from torch import nn

from coronet.models.base import DISCRIMINATORS
from coronet.models.norms import init_weights, norm_factory


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3,
                 norm: str = "batch") -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        kw, padw = 4, 1
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw),
                                nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=2, padding=padw, bias=use_bias),
                    make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=1, padding=padw, bias=use_bias),
                make_norm(ndf * mult), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * mult, 1, kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*seq)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@DISCRIMINATORS.register("basic")
def basic(input_nc: int = 3, ndf: int = 64, norm: str = "batch") -> NLayerDiscriminator:
    return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm=norm)


class PixelDiscriminator(nn.Module):
    def __init__(self, input_nc: int = 3, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=use_bias), make_norm(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=use_bias))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@DISCRIMINATORS.register("pixel")
def pixel(input_nc: int = 3, ndf: int = 64, norm: str = "batch") -> PixelDiscriminator:
    return PixelDiscriminator(input_nc, ndf, norm)


def get_discriminator(name: str = "basic", **kwargs) -> nn.Module:
    return DISCRIMINATORS.get(name)(**kwargs)
