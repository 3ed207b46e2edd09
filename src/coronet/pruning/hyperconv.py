"""Convolutions whose kernels are generated from latent vectors.

For output channel i and input channel j of a k x k convolution, the kernel entry pair K[i,j]
(k^2 values) is generated from the product of the two channels' latents, z_out[i] z_in[j], by
parameters stored at [i,j]. The hypernetwork's form (`model.hypernet`, docs/method.md):
    lean   K[i,j] = z_out[i] z_in[j] A[i,j] + C[i,j]                      2 k^2 numbers per pair
    dhp    Z = z_out[i] z_in[j] + B0, E = Z W1 + B1, K = E @ W2 + B2       1 + 2m + k^2 m + k^2
DHP's three layers have no nonlinearity, so they compute exactly a lean kernel (A = W1 @ W2,
C = B0 A + B1 @ W2 + B2): the same functions, with the optimiser moving them in another geometry.
Because K[i,j] depends only on z_out[i] z_in[j] and on parameters at [i,j], slicing the latent
vectors slices the generated kernel exactly. Dead channels are masked out of K and the bias, so they
contribute exactly zero, during search as after export. A depthwise convolution has one input
channel per filter: its z_in is the constant vector (1), DHP's never-pruned dummy latent, so its
kernel follows z_out alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from coronet.models.layout import ConvSpec
from coronet.pruning.generation import dhp_kernel, lean_kernel
from coronet.pruning.latents import LatentVectors

FORMS = ("lean", "dhp")
PARAMETERS = {"lean": ("a", "c"), "dhp": ("b0", "w1", "b1", "w2", "b2")}
# One Adam step moves a DHP kernel about 3x as far as a lean one (the moves of its factors
# multiply), so from scratch the lean form's parameters train at 3x the learning rate: DHP's pace.
FROM_SCRATCH_LR_SCALE = {"lean": 3.0, "dhp": 1.0}


class HyperConv(nn.Module):
    """Stand-in for one Conv2d or ConvTranspose2d (groups=1), or a depthwise Conv2d (groups =
    channels, declared `depthwise`), with the same stride/padding/dilation."""

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d, spec: ConvSpec,
                 latents: LatentVectors, form: str = "lean", embedding_dim: int = 8) -> None:
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"hypernetwork form must be one of {FORMS} (got {form!r})")
        self.spec = spec
        self.form = form
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        depthwise = not self.transposed and conv.groups == conv.in_channels == conv.out_channels
        if conv.groups != 1 and not (depthwise and spec.depthwise):
            raise ValueError(f"{spec.module}: grouped convolutions other than depthwise ones declared "
                             f"with LayoutBuilder.depthwise are not supported")
        if spec.depthwise and not depthwise:
            raise ValueError(f"{spec.module} is declared depthwise but has groups={conv.groups}")
        self.groups = conv.groups
        if self.transposed:
            c_in, c_out, kh, kw = conv.weight.shape
        else:
            c_out, c_in, kh, kw = conv.weight.shape
        self.c_out, self.c_in, self.kernel_size = c_out, c_in, (kh, kw)
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.output_padding = conv.output_padding if self.transposed else (0, 0)
        self.padding_mode = conv.padding_mode
        self._reversed_padding = getattr(conv, "_reversed_padding_repeated_twice", None)
        k2 = kh * kw
        bound = math.sqrt(3.0 / (c_in * k2))  # DHP's "hyperfan-in": Var(K) ~ 1/(c_in k^2) at z ~ N(0, 1)
        if form == "dhp":
            m = embedding_dim
            self.b0 = nn.Parameter(torch.zeros(c_out, c_in))
            self.w1 = nn.Parameter(torch.empty(c_out, c_in, m).uniform_(-math.sqrt(3), math.sqrt(3)))
            self.b1 = nn.Parameter(torch.zeros(c_out, c_in, m))
            w2_bound = math.sqrt(3.0 / (m * c_in * k2))  # the same Var(K) through m products
            self.w2 = nn.Parameter(torch.empty(c_out, c_in, m, k2).uniform_(-w2_bound, w2_bound))
            self.b2 = nn.Parameter(torch.zeros(c_out, c_in, k2))
        else:
            self.a = nn.Parameter(torch.empty(c_out, c_in, k2).uniform_(-bound, bound))
            self.c = nn.Parameter(torch.zeros(c_out, c_in, k2))
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None
        # a depthwise filter's one input channel: the constant latent and mask (1)
        self.register_buffer("_unit", torch.ones(1), persistent=False)
        # shared with every other layer; owned (and registered) by the HyperGenerator
        object.__setattr__(self, "_latents", latents)
        # the weight and bias of the current optimiser step, while `HyperGenerator.reusing_kernels`
        # holds them; None: generated at every call
        self.step_kernels: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def copy_dense_weight(self, conv: nn.Conv2d | nn.ConvTranspose2d) -> None:
        """Set the hypernetwork so that it generates exactly `conv`'s kernel D at the current latents,
        scaled by how far the latents then move: K[i,j] = Z[i,j] / Z0[i,j] * D[i,j] with
        Z = z_out z_in^T and Z0 its value now (1 at z = 1). The kernel fades as the latents shrink.

        Lean: A = D / Z0, C = 0. DHP: B0 = B1 = B2 = 0 and
        W2[i,j] = w1[i,j] D[i,j]^T / (|w1[i,j]|^2 Z0[i,j]); W1 stays random so all m embedding
        dimensions keep receiving gradient.
        """
        with torch.no_grad():
            dense = conv.weight.detach()
            if self.transposed:
                dense = dense.transpose(0, 1)
            z_out, z_in = self.gates()
            dense = dense.reshape(self.c_out, self.c_in, -1) / torch.outer(z_out, z_in)[..., None]
            if self.form == "lean":
                self.a.copy_(dense)
                self.c.zero_()
            else:
                scale = self.w1 / self.w1.pow(2).sum(-1, keepdim=True)  # (o, i, m)
                self.w2.copy_(scale[..., None] * dense[:, :, None, :])
                self.b0.zero_()
                self.b1.zero_()
                self.b2.zero_()
            if self.bias is not None:
                self.bias.copy_(conv.bias.detach())

    def gates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_out, z_in) as the generation reads them."""
        z_out = self._latents.vector(self.spec.out_group)
        z_in, _ = self._input_gate()
        return z_out, z_in

    def _input_gate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_in, float alive mask of the input channels), one concatenation for both."""
        if self.spec.depthwise:
            return self._unit, self._unit
        return self._latents.gate(self.spec.in_groups)

    def _generate(self, z_out: torch.Tensor, z_in: torch.Tensor, mask_out: torch.Tensor,
                  mask_in: torch.Tensor) -> torch.Tensor:
        if self.form == "lean":
            return lean_kernel(z_out, z_in, mask_out, mask_in, self.a, self.c)
        return dhp_kernel(z_out, z_in, mask_out, mask_in, self.b0, self.w1, self.b1, self.w2, self.b2)

    def masked_weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight in nn.Conv2d / nn.ConvTranspose2d layout and bias, dead channels zeroed."""
        z_out = self._latents.vector(self.spec.out_group)
        alive_out = self._latents.mask(self.spec.out_group)
        z_in, alive_in = self._input_gate()
        k = self._generate(z_out, z_in, alive_out, alive_in)
        k = k.view(self.c_out, self.c_in, *self.kernel_size)
        if self.transposed:
            k = k.transpose(0, 1)
        bias = self.bias * alive_out if self.bias is not None else None
        return k, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.step_kernels if self.step_kernels is not None else self.masked_weight_and_bias()
        if self.transposed:
            return F.conv_transpose2d(x, weight, bias, self.stride, self.padding,
                                      self.output_padding, 1, self.dilation)
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding, mode=self.padding_mode)
            return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def hyper_parameters(self) -> list[nn.Parameter]:
        return [getattr(self, name) for name in PARAMETERS[self.form]]

    def extra_repr(self) -> str:
        kind = ("ConvTranspose2d" if self.transposed
                else "DepthwiseConv2d" if self.spec.depthwise else "Conv2d")
        return (f"{kind}({self.c_in}, {self.c_out}, k={self.kernel_size}, s={self.stride}, "
                f"out={self.spec.out_group!r}, in={self.spec.in_groups!r}, form={self.form})")
