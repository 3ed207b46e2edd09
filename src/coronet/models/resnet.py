"""ResNet generator of pytorch-CycleGAN-and-pix2pix (`resnet_9blocks`, `resnet_6blocks`).

Module order and names match the reference exactly (`model.1.weight`, `model.10.conv_block.1...`),
so a `latest_net_G.pth` trained there loads unchanged. Latent groups: `c1` (first conv), `down1`,
`trunk` (the last downsample and the second conv of every block, which add into one tensor),
`block{i}` (each block's inner channels), `up1`, `up2`; `rgb_in`/`rgb_out` are never pruned.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from coronet.errors import ConfigError
from coronet.models.base import Generator, GeneratorSpec, register_generator
from coronet.models.layout import RGB_IN, RGB_OUT, LayoutBuilder
from coronet.models.norms import init_weights, norm_factory

PADDINGS = ("reflect", "replicate", "zero")


def padding_layers(padding_type: str) -> tuple[list[nn.Module], int]:
    """The explicit padding layer before a 3x3 convolution, and the convolution's own padding."""
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(1)], 0
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(1)], 0
    return [], 1


class ResnetBlock(nn.Module):
    """x + conv_block(x); the block's inner width may differ from the trunk width once pruned."""

    def __init__(self, dim: int, inner: int, padding_type: str, make_norm, use_dropout: bool,
                 use_bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        convs: list[int] = []
        for conv_in, conv_out, last in ((dim, inner, False), (inner, dim, True)):
            pad, p = padding_layers(padding_type)
            layers += pad
            convs.append(len(layers))
            layers += [self.make_conv(conv_in, conv_out, p, use_bias), make_norm(conv_out)]
            if not last:
                layers += [nn.ReLU(True), *self.dropout_slot(use_dropout)]
        self.conv_block = nn.Sequential(*layers)
        self.conv_indices = (convs[0], convs[1])

    @staticmethod
    def make_conv(c_in: int, c_out: int, padding: int, use_bias: bool) -> nn.Module:
        return nn.Conv2d(c_in, c_out, kernel_size=3, padding=padding, bias=use_bias)

    @staticmethod
    def dropout_slot(use_dropout: bool) -> list[nn.Module]:
        """The reference's layer between the block's convolutions: a Dropout only when used."""
        return [nn.Dropout(0.5)] if use_dropout else []

    def declare(self, lay: LayoutBuilder, prefix: str, trunk: str, inner: str) -> None:
        """Declare this block's convolutions and norms, the block living at `prefix`."""
        first, second = self.conv_indices
        lay.conv(f"{prefix}.conv_block.{first}", inner, trunk)
        lay.channel_op(f"{prefix}.conv_block.{first + 1}", inner)
        lay.conv(f"{prefix}.conv_block.{second}", trunk, inner)
        lay.channel_op(f"{prefix}.conv_block.{second + 1}", trunk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(Generator):
    """c7s1-ngf, d2ngf, d4ngf, n_blocks x R4ngf, u2ngf, ungf, c7s1-3, tanh."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", use_dropout: bool = False, padding_type: str = "reflect",
                 widths: Mapping[str, int] | None = None, name: str = "resnet_9blocks",
                 block: type[nn.Module] = ResnetBlock) -> None:
        super().__init__()
        if padding_type not in PADDINGS:
            raise ConfigError(f"unknown padding {padding_type!r}; choose one of {PADDINGS}")
        if ngf < 1 or n_blocks < 0:
            raise ConfigError(f"ngf must be >= 1 and n_blocks >= 0 (got {ngf}, {n_blocks})")
        make_norm, use_bias = norm_factory(norm)
        lay = LayoutBuilder(widths)
        w_in = lay.group(RGB_IN, input_nc, prunable=False)
        w_c1 = lay.group("c1", ngf)
        w_d1 = lay.group("down1", ngf * 2)
        w_trunk = lay.group("trunk", ngf * 4)
        w_blocks = [lay.group(f"block{i}", ngf * 4) for i in range(n_blocks)]
        w_u1 = lay.group("up1", ngf * 2)
        w_u2 = lay.group("up2", ngf)
        w_out = lay.group(RGB_OUT, output_nc, prunable=False)

        model: list[nn.Module] = [nn.ReflectionPad2d(3)]

        def add(module: nn.Module) -> str:
            model.append(module)
            return f"model.{len(model) - 1}"

        def conv_norm_relu(conv: nn.Module, width: int, out_group: str, in_group: str) -> None:
            lay.conv(add(conv), out_group, in_group)
            lay.channel_op(add(make_norm(width)), out_group)
            model.append(nn.ReLU(True))

        conv_norm_relu(nn.Conv2d(w_in, w_c1, 7, padding=0, bias=use_bias), w_c1, "c1", RGB_IN)
        conv_norm_relu(nn.Conv2d(w_c1, w_d1, 3, stride=2, padding=1, bias=use_bias), w_d1,
                       "down1", "c1")
        conv_norm_relu(nn.Conv2d(w_d1, w_trunk, 3, stride=2, padding=1, bias=use_bias), w_trunk,
                       "trunk", "down1")
        for i, w_inner in enumerate(w_blocks):
            residual = block(w_trunk, w_inner, padding_type, make_norm, use_dropout, use_bias)
            residual.declare(lay, add(residual), "trunk", f"block{i}")
        conv_norm_relu(nn.ConvTranspose2d(w_trunk, w_u1, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias), w_u1, "up1", "trunk")
        conv_norm_relu(nn.ConvTranspose2d(w_u1, w_u2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias), w_u2, "up2", "up1")
        model.append(nn.ReflectionPad2d(3))
        lay.conv(add(nn.Conv2d(w_u2, w_out, 7, padding=0)), RGB_OUT, "up2")
        model.append(nn.Tanh())
        self.model = nn.Sequential(*model)
        init_weights(self)
        # n_blocks and the block are implied by the registered name, not part of the rebuild arguments
        spec = GeneratorSpec(name, dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, norm=norm,
                                        use_dropout=use_dropout, padding_type=padding_type))
        self._finish(spec, lay.build(), widths or {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_generator("resnet_9blocks", 8, 4)
def resnet_9blocks(widths: Mapping[str, int] | None = None, **kwargs) -> ResnetGenerator:
    return ResnetGenerator(n_blocks=9, widths=widths, name="resnet_9blocks", **kwargs)


@register_generator("resnet_6blocks", 8, 4)
def resnet_6blocks(widths: Mapping[str, int] | None = None, **kwargs) -> ResnetGenerator:
    return ResnetGenerator(n_blocks=6, widths=widths, name="resnet_6blocks", **kwargs)
