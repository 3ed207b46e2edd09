"""MACs and parameters of a generator as a function of its channel widths, with torchprofile's rules.

One forward pass on the meta device records the output size of every declared module; after that
the cost of any width assignment is arithmetic, cheap enough to evaluate after every training step.
The rules follow torchprofile (the counter GAN Compression, OMGD and CAT report with; its `handlers.py`):
    conv / conv-transpose  numel(output) * c_in * k^2       (output side, also for transposed)
    depthwise conv         numel(output) * k^2              (c_in per group is 1)
    batch/instance norm    numel(output) if affine else 0
    leaky_relu             numel(output); the in-place form (`aten::leaky_relu_`) is not counted
    relu, tanh, pads, add, cat, dropout: 0
Parameters: conv weight c_out*c_in*k^2 (depthwise c*k^2) (+ c_out bias), affine norm 2*c. Modules
the layout does not declare contribute their dense parameter count (they cannot depend on the widths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from coronet.models.base import Generator
from coronet.models.layout import RGB_IN

Form = tuple[np.ndarray, np.ndarray, float]  # cost(w) = w^T quad w + lin^T w + const
LATENCY_PARTS = ("conv_macs", "transposed_macs", "depthwise_macs", "patches", "activations", "one")


@dataclass(frozen=True)
class _ConvTerm:
    out_group: str
    in_groups: tuple[str, ...]
    macs_coef: int  # H_out * W_out * k^2 (batch 1)
    params_coef: int  # k^2
    bias: bool
    depthwise: bool
    transposed: bool
    pixels: int  # H_out * W_out: elements one output channel writes


@dataclass(frozen=True)
class _ChannelTerm:
    groups: tuple[str, ...]
    macs_coef: int  # H * W when torchprofile counts the op, else 0
    params_coef: int  # parameters per channel (2 for an affine norm)
    pixels: int  # H * W: elements one channel reads and writes


def _counted_per_channel(module: nn.Module) -> bool:
    """Whether torchprofile counts numel(output) MACs for this per-channel module."""
    if isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)):
        return module.weight is not None
    if isinstance(module, nn.LeakyReLU):
        return not module.inplace
    return False


class CostModel:
    """MACs(widths) and params(widths) for one generator at one input size (batch 1)."""

    def __init__(self, generator: Generator, input_size: tuple[int, int]) -> None:
        self.layout = generator.layout
        self.input_size = tuple(input_size)
        sizes = _output_sizes(generator, self.input_size)
        modules = dict(generator.named_modules())
        self._convs = []
        declared: set[str] = set()
        for spec in self.layout.convs:
            conv = modules[spec.module]
            k2 = conv.kernel_size[0] * conv.kernel_size[1]
            h, w = sizes[spec.module]
            self._convs.append(_ConvTerm(spec.out_group, spec.in_groups, h * w * k2, k2,
                                         conv.bias is not None, spec.depthwise,
                                         isinstance(conv, nn.ConvTranspose2d), h * w))
            declared.add(spec.module)
        self._ops = []
        for op in self.layout.channel_ops:
            module = modules[op.module]
            h, w = sizes[op.module]
            n_params_per_channel = sum(p.numel() for p in module.parameters(recurse=False))
            channels = sum(generator.widths[g] for g in op.groups)
            self._ops.append(_ChannelTerm(op.groups, h * w if _counted_per_channel(module) else 0,
                                          n_params_per_channel // max(channels, 1), h * w))
            declared.add(op.module)
        # parameters of undeclared modules cannot depend on the widths
        self._fixed_params = sum(p.numel() for name, m in modules.items() if name not in declared
                                 for p in m.parameters(recurse=False))
        self.dense_widths = self.layout.dense_widths()

        # cost(w) = w^T A w + b^T w + c exactly (integers), with w the widths in layout order
        self.group_names = [g.name for g in self.layout.groups]
        self.index = {name: i for i, name in enumerate(self.group_names)}
        self._forms = {"macs": self._quadratic_form("macs"), "params": self._quadratic_form("params")}
        self._parts: dict[str, Form] | None = None

    def _quadratic_form(self, metric: str) -> tuple[np.ndarray, np.ndarray, int]:
        n = len(self.group_names)
        quad, lin = np.zeros((n, n), dtype=np.int64), np.zeros(n, dtype=np.int64)
        const = self._fixed_params if metric == "params" else 0
        for t in self._convs:
            o = self.index[t.out_group]
            coef = t.macs_coef if metric == "macs" else t.params_coef
            if t.depthwise:
                lin[o] += coef
            for g in t.in_groups:
                quad[o, self.index[g]] += coef
            if metric == "params" and t.bias:
                lin[o] += 1
        for op in self._ops:
            for g in op.groups:
                lin[self.index[g]] += op.macs_coef if metric == "macs" else op.params_coef
        return quad, lin, const

    def part_forms(self) -> dict[str, Form]:
        """The parts a runtime's time is made of, each a quadratic form of the widths: the MACs of
        full, transposed and depthwise convolutions (their kernels differ in speed per MAC), the
        input patches the full ones gather (output pixels x k^2 per input channel, what im2col
        copies: it dominates where few output channels share them), the elements every layer writes
        (memory traffic of norms, activations and copies), and one (a fixed cost per run). A latency
        model is a weighted sum of them (`add_form`)."""
        if self._parts is None:  # built once: a calibration evaluates them at every setting it times
            self._parts = self._build_part_forms()
        return self._parts

    def _build_part_forms(self) -> dict[str, Form]:
        n = len(self.group_names)
        parts = {name: (np.zeros((n, n)), np.zeros(n), 0.0) for name in LATENCY_PARTS[:-1]}
        parts["one"] = (np.zeros((n, n)), np.zeros(n), 1.0)
        for t in self._convs:
            o = self.index[t.out_group]
            if t.depthwise:
                parts["depthwise_macs"][1][o] += t.macs_coef
            for g in t.in_groups:
                parts["transposed_macs" if t.transposed else "conv_macs"][0][o, self.index[g]] += t.macs_coef
                parts["patches"][1][self.index[g]] += t.macs_coef
            parts["activations"][1][o] += t.pixels
        for op in self._ops:
            for g in op.groups:
                parts["activations"][1][self.index[g]] += op.pixels
        return parts

    def add_form(self, metric: str, weights: Mapping[str, float]) -> None:
        """Make `metric` the sum of the parts (`part_forms`) weighted by `weights`: a fitted latency
        model becomes a cost like MACs, which the search and the budget read the same way. Its
        coefficients are rounded to integers, so that costs and savings stay exact integer
        arithmetic (give the weights in a unit fine enough: the latency form counts picoseconds)."""
        parts = self.part_forms()
        unknown = set(weights) - set(parts)
        if unknown:
            raise ValueError(f"unknown cost parts {sorted(unknown)}; parts: {', '.join(parts)}")
        n = len(self.group_names)
        quad, lin, const = np.zeros((n, n)), np.zeros(n), 0.0
        for name, weight in weights.items():
            q, b, c = parts[name]
            quad, lin, const = quad + weight * q, lin + weight * b, const + weight * c
        self._forms[metric] = (np.rint(quad).astype(np.int64), np.rint(lin).astype(np.int64), round(const))

    def vector(self, widths: Mapping[str, int]) -> np.ndarray:
        return np.array([widths[name] for name in self.group_names], dtype=np.int64)

    def cost_vector(self, metric: str, w: np.ndarray) -> int:
        quad, lin, const = self._forms[metric]
        return int(w @ quad @ w + lin @ w + const)

    def savings_vector(self, metric: str, w: np.ndarray) -> np.ndarray:
        """cost(w) - cost(w - e_g) for every group g, in one product (exact)."""
        quad, lin, _ = self._forms[metric]
        return quad @ w + quad.T @ w - np.diag(quad) + lin

    def macs(self, widths: Mapping[str, int]) -> int:
        return self.cost_vector("macs", self.vector(widths))

    def params(self, widths: Mapping[str, int]) -> int:
        return self.cost_vector("params", self.vector(widths))

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self._forms)

    def cost(self, metric: str, widths: Mapping[str, int]) -> int:
        if metric not in self._forms:
            raise ValueError(f"unknown metric {metric!r}")
        return self.cost_vector(metric, self.vector(widths))


def _output_sizes(generator: Generator, input_size: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Spatial output size of every declared module, from one forward pass on the meta device."""
    layout = generator.layout
    wanted = {s.module for s in layout.convs} | {o.module for o in layout.channel_ops}
    with torch.device("meta"):
        twin = generator.spec.build(generator.widths)
    sizes: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, module in twin.named_modules():
        if name in wanted:
            def record(mod, inputs, output, name=name):
                sizes[name] = (int(output.shape[-2]), int(output.shape[-1]))
            hooks.append(module.register_forward_hook(record))
    in_channels = generator.layout.group(RGB_IN).size
    try:
        with torch.no_grad():
            twin.eval()(torch.empty(1, in_channels, *input_size, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    missing = wanted - set(sizes)
    if missing:
        raise ValueError(f"declared modules never ran in forward: {sorted(missing)}")
    return sizes
