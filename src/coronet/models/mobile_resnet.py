"""GAN Compression's mobile ResNet generator (`mobile_resnet_9blocks`), the student family that GAN
Compression, OMGD and DMAD publish their compressed models in.

It is the ResNet-9 generator with every residual block's 3x3 convolutions made depthwise-separable:
depthwise 3x3, an instance norm without parameters, pointwise 1x1. Module names match GAN
Compression's and OMGD's checkpoints (`model.10.conv_block.1.conv.0.weight`: the depthwise kernel of
the first block's first separable convolution; the block always keeps its Dropout slot at index 4).
A depthwise convolution filters each channel alone, so its channels follow the latent group of the
channels it filters: the first one the trunk's, the second one the block's inner group.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from coronet.models.base import register_generator
from coronet.models.layout import LayoutBuilder
from coronet.models.resnet import ResnetBlock, ResnetGenerator


class SeparableConv2d(nn.Module):
    """Depthwise k x k, InstanceNorm2d (no parameters), pointwise 1 x 1, as `conv.0/1/2`."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, padding: int, use_bias: bool) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in, kernel_size, padding=padding, groups=c_in, bias=use_bias),
            nn.InstanceNorm2d(c_in),
            nn.Conv2d(c_in, c_out, kernel_size=1, bias=use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class MobileResnetBlock(ResnetBlock):
    """x + conv_block(x) with separable convolutions; pruned, its inner width may differ."""

    @staticmethod
    def make_conv(c_in: int, c_out: int, padding: int, use_bias: bool) -> nn.Module:
        return SeparableConv2d(c_in, c_out, 3, padding, use_bias)

    @staticmethod
    def dropout_slot(use_dropout: bool) -> list[nn.Module]:
        """GAN Compression keeps the Dropout layer even at rate 0 (its checkpoints' key layout)."""
        return [nn.Dropout(0.5 if use_dropout else 0.0)]

    def declare(self, lay: LayoutBuilder, prefix: str, trunk: str, inner: str) -> None:
        """Declare the block's convolutions: depthwise on the channels it reads, pointwise into
        the next group, then the norm of that group."""
        for index, source, target in zip(self.conv_indices, (trunk, inner), (inner, trunk), strict=True):
            sep = f"{prefix}.conv_block.{index}.conv"
            lay.depthwise(f"{sep}.0", source)
            lay.channel_op(f"{sep}.1", source)
            lay.conv(f"{sep}.2", target, source)
            lay.channel_op(f"{prefix}.conv_block.{index + 1}", target)


@register_generator("mobile_resnet_9blocks", 8, 4)
def mobile_resnet_9blocks(widths: Mapping[str, int] | None = None, **kwargs) -> ResnetGenerator:
    return ResnetGenerator(n_blocks=9, widths=widths, name="mobile_resnet_9blocks",
                           block=MobileResnetBlock, **kwargs)
