"""How a generator declares which channels must be pruned together.

A generator describes itself with a `ChannelLayout`: its latent groups (channel spaces that share
one latent vector, e.g. the ResNet trunk that every residual block adds into), every generated
convolution (which group its output lands in, which groups are concatenated at its input), and
every per-channel module whose parameters or MAC count follow a group (norms, counted activations).
The pruning core reads only this declaration, so a new architecture is supported by declaring its
layout; nothing is inferred from positions in a state dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Names of the groups that are never pruned: the image channels going in and coming out.
RGB_IN = "rgb_in"
RGB_OUT = "rgb_out"


@dataclass(frozen=True)
class LatentGroup:
    """One channel space with one latent vector.

    name: unique within the generator.
    size: channel count of the dense generator.
    prunable: False for channels that must stay (image input/output).
    """

    name: str
    size: int
    prunable: bool = True


@dataclass(frozen=True)
class ConvSpec:
    """A Conv2d/ConvTranspose2d whose weights the hypernetwork generates.

    module: dotted module path inside the generator (state-dict prefix, e.g. "model.1").
    out_group: the group its output channels belong to.
    in_groups: the groups concatenated, in order, to form its input channels.
    depthwise: each output channel filters only its own input channel (groups = channels), so
        input and output are both `out_group` and `in_groups` is empty: its cost is linear in
        the group's width, and removing a channel removes its one filter.
    """

    module: str
    out_group: str
    in_groups: tuple[str, ...]
    depthwise: bool = False


@dataclass(frozen=True)
class ChannelOpSpec:
    """A per-channel module (norm, activation) acting on the channels of `groups`, concatenated."""

    module: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class ChannelLayout:
    """Everything the pruning core needs to know about a generator's channels."""

    groups: tuple[LatentGroup, ...]
    convs: tuple[ConvSpec, ...]
    channel_ops: tuple[ChannelOpSpec, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate latent group names in {names}")
        known = set(names)
        for spec in self.convs:
            if spec.depthwise == bool(spec.in_groups):
                raise ValueError(f"{spec.module}: a depthwise convolution has no input groups, any "
                                 f"other has at least one")
            for g in (spec.out_group, *spec.in_groups):
                if g not in known:
                    raise ValueError(f"{spec.module} refers to undeclared group {g!r}")
        for op in self.channel_ops:
            for g in op.groups:
                if g not in known:
                    raise ValueError(f"{op.module} refers to undeclared group {g!r}")

    def group(self, name: str) -> LatentGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def dense_widths(self) -> dict[str, int]:
        return {g.name: g.size for g in self.groups}

    def prunable(self) -> tuple[LatentGroup, ...]:
        return tuple(g for g in self.groups if g.prunable)


class LayoutBuilder:
    """Collects a layout while a generator builds its modules, so names and groups stay in step.

    `widths` overrides the dense channel counts (a compact generator is the same class built at
    the pruned widths); groups not named keep their dense size.
    """

    def __init__(self, widths: Mapping[str, int] | None = None) -> None:
        self._widths = dict(widths or {})
        self._groups: list[LatentGroup] = []
        self._convs: list[ConvSpec] = []
        self._ops: list[ChannelOpSpec] = []

    def group(self, name: str, dense_size: int, prunable: bool = True) -> int:
        """Declare a group and return the width to build it at."""
        self._groups.append(LatentGroup(name, dense_size, prunable))
        width = self._widths.get(name, dense_size)
        if not prunable and width != dense_size:
            raise ValueError(f"group {name!r} is never pruned; its width must stay {dense_size}")
        if not 1 <= width <= dense_size:
            raise ValueError(f"width {width} of group {name!r} is outside [1, {dense_size}]")
        return width

    def conv(self, module: str, out_group: str, *in_groups: str) -> None:
        self._convs.append(ConvSpec(module, out_group, tuple(in_groups)))

    def depthwise(self, module: str, group: str) -> None:
        """A depthwise convolution over the channels of `group` (its output stays in `group`)."""
        self._convs.append(ConvSpec(module, group, (), depthwise=True))

    def channel_op(self, module: str, *groups: str) -> None:
        self._ops.append(ChannelOpSpec(module, tuple(groups)))

    def build(self) -> ChannelLayout:
        unknown = set(self._widths) - {g.name for g in self._groups}
        if unknown:
            raise ValueError(f"widths given for unknown groups: {sorted(unknown)}")
        return ChannelLayout(tuple(self._groups), tuple(self._convs), tuple(self._ops))
