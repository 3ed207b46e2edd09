"""U-Net generator of pytorch-CycleGAN-and-pix2pix (`unet_256`, `unet_128`).

Nested skip blocks with the reference's module order, so state-dict keys match
(`model.model.0.weight`, `model.model.1.model.1.weight`, ...). Level 1 is the outermost block.
Latent groups: `down{b}` (output of level b's down conv) and `up{b}` (output of level b's up conv,
b >= 2). A non-outermost block returns `cat([x, block(x)])`, so level b's up conv reads the
concatenation `[down{b}, up{b+1}]` in that order (skip first), and only `[down{n}]` at the
innermost level.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from coronet.errors import ConfigError
from coronet.models.base import Generator, GeneratorSpec, register_generator
from coronet.models.layout import RGB_IN, RGB_OUT, LayoutBuilder
from coronet.models.norms import init_weights, norm_factory


class UnetSkipConnectionBlock(nn.Module):
    """down -> submodule -> up, with the input concatenated to the output except outermost."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int, up_in_nc: int,
                 submodule: nn.Module | None, make_norm, use_bias: bool, outermost: bool = False,
                 innermost: bool = False, use_dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            upconv = nn.ConvTranspose2d(up_in_nc, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(up_in_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, make_norm(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(up_in_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, make_norm(inner_nc), submodule, uprelu, upconv,
                     make_norm(outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


# Sequential index of each piece inside a block, by kind of block.
_OUTER = {"downconv": 0, "sub": 1, "upconv": 3}
_INNER = {"downrelu": 0, "downconv": 1, "upconv": 3, "upnorm": 4}
_MIDDLE = {"downrelu": 0, "downconv": 1, "downnorm": 2, "sub": 3, "upconv": 5, "upnorm": 6}


class UnetGenerator(Generator):
    """U-Net with `num_downs` levels; 8 levels turn 256x256 into 1x1 at the bottleneck."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", use_dropout: bool = True,
                 widths: Mapping[str, int] | None = None, name: str = "unet_256") -> None:
        super().__init__()
        if num_downs < 5:
            raise ConfigError(f"a U-Net needs at least 5 levels (got num_downs={num_downs})")
        if ngf < 1:
            raise ConfigError(f"ngf must be >= 1 (got {ngf})")
        make_norm, use_bias = norm_factory(norm)
        n = num_downs
        # dense (outer, inner) channels of each level, outermost first, as the reference builds them
        inner = [ngf, ngf * 2, ngf * 4] + [ngf * 8] * (n - 3)
        lay = LayoutBuilder(widths)
        w_in = lay.group(RGB_IN, input_nc, prunable=False)
        w_down = [lay.group(f"down{b}", inner[b - 1]) for b in range(1, n + 1)]
        w_up = {b: lay.group(f"up{b}", inner[b - 2]) for b in range(2, n + 1)}
        w_out = lay.group(RGB_OUT, output_nc, prunable=False)

        paths = {1: "model"}
        for b in range(2, n + 1):
            sub = _OUTER["sub"] if b == 2 else _MIDDLE["sub"]
            paths[b] = f"{paths[b - 1]}.model.{sub}"

        block: nn.Module | None = None
        for b in range(n, 0, -1):  # build innermost first, like the reference
            outermost, innermost = b == 1, b == n
            in_w = w_in if outermost else w_down[b - 2]
            out_w = w_out if outermost else w_up[b]
            up_in = w_down[b - 1] + (0 if innermost else w_up[b + 1])
            block = UnetSkipConnectionBlock(
                out_w, w_down[b - 1], in_w, up_in, block, make_norm, use_bias,
                outermost=outermost, innermost=innermost,
                use_dropout=use_dropout and 5 <= b < n)
            self._declare_level(lay, b, n, paths[b] + ".model")
        self.model = block
        init_weights(self)
        spec = GeneratorSpec(name, dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                                        use_dropout=use_dropout))
        self._finish(spec, lay.build(), widths or {})

    @staticmethod
    def _declare_level(lay: LayoutBuilder, b: int, n: int, seq: str) -> None:
        source = RGB_IN if b == 1 else f"down{b - 1}"
        target = RGB_OUT if b == 1 else f"up{b}"
        up_inputs = (f"down{b}",) if b == n else (f"down{b}", f"up{b + 1}")
        index = _OUTER if b == 1 else _INNER if b == n else _MIDDLE
        if "downrelu" in index:
            lay.channel_op(f"{seq}.{index['downrelu']}", source)
        lay.conv(f"{seq}.{index['downconv']}", f"down{b}", source)
        if "downnorm" in index:
            lay.channel_op(f"{seq}.{index['downnorm']}", f"down{b}")
        lay.conv(f"{seq}.{index['upconv']}", target, *up_inputs)
        if "upnorm" in index:
            lay.channel_op(f"{seq}.{index['upnorm']}", target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_generator("unet_256", 256, 256)
def unet_256(widths: Mapping[str, int] | None = None, **kwargs) -> UnetGenerator:
    return UnetGenerator(num_downs=8, widths=widths, name="unet_256", **kwargs)


@register_generator("unet_128", 128, 128)
def unet_128(widths: Mapping[str, int] | None = None, **kwargs) -> UnetGenerator:
    return UnetGenerator(num_downs=7, widths=widths, name="unet_128", **kwargs)
