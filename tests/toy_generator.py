"""A third architecture, declared only through its layout, to show the pruning core needs nothing else.

It mixes what the reference networks do not: a reflect-padded conv (padding_mode), an affine
InstanceNorm, a counted (non-in-place) LeakyReLU, a 1x1 conv, a residual group and a skip concat.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from coronet.models import RGB_IN, RGB_OUT, Generator, GeneratorSpec, LayoutBuilder
from coronet.models.base import GENERATORS

NAME = "toy_skipnet"


class ToySkipNet(Generator):
    def __init__(self, width: int = 8, widths: Mapping[str, int] | None = None) -> None:
        super().__init__()
        lay = LayoutBuilder(widths)
        w_rgb = lay.group(RGB_IN, 3, prunable=False)
        w_a = lay.group("stem", width)
        w_b = lay.group("body", 2 * width)
        w_r = lay.group("res", width)
        w_u = lay.group("up", width)
        w_o = lay.group(RGB_OUT, 3, prunable=False)
        self.stem = nn.Conv2d(w_rgb, w_a, 3, padding=1)
        self.stem_norm = nn.BatchNorm2d(w_a)
        self.stem_act = nn.LeakyReLU(0.2)  # not in place: torchprofile counts it
        self.down = nn.Conv2d(w_a, w_b, 3, stride=2, padding=1, padding_mode="reflect")
        self.down_norm = nn.InstanceNorm2d(w_b, affine=True)
        self.res_in = nn.Conv2d(w_b, w_r, 1)
        self.res_out = nn.Conv2d(w_r, w_b, 3, padding=1, bias=False)
        self.up = nn.ConvTranspose2d(w_b, w_u, 4, stride=2, padding=1)
        self.head = nn.Conv2d(w_a + w_u, w_o, 3, padding=1)
        lay.conv("stem", "stem", RGB_IN)
        lay.channel_op("stem_norm", "stem")
        lay.channel_op("stem_act", "stem")
        lay.conv("down", "body", "stem")
        lay.channel_op("down_norm", "body")
        lay.conv("res_in", "res", "body")
        lay.conv("res_out", "body", "res")
        lay.conv("up", "up", "body")
        lay.conv("head", RGB_OUT, "stem", "up")
        self._finish(GeneratorSpec(NAME, {"width": width}), lay.build(), widths or {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.stem_act(self.stem_norm(self.stem(x)))
        b = self.down_norm(self.down(a))
        b = b + self.res_out(torch.relu(self.res_in(b)))
        u = torch.relu(self.up(b))
        return torch.tanh(self.head(torch.cat([a, u], 1)))


def register() -> None:
    if NAME not in GENERATORS.names():
        GENERATORS.register(NAME)(lambda widths=None, **kw: ToySkipNet(widths=widths, **kw))
