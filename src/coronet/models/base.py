"""What every coronet generator exposes: its channel layout and how to rebuild it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from coronet.config import MAX_SIDE
from coronet.errors import ConfigError
from coronet.models.layout import ChannelLayout
from coronet.registry import Registry


@dataclass(frozen=True)
class GeneratorSpec:
    """The registered name and constructor arguments (widths excluded) that rebuild a generator."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kwargs": dict(self.kwargs)}

    def build(self, widths: Mapping[str, int] | None = None) -> Generator:
        """A newly initialised generator of this kind at `widths`: compact twins, fresh starts."""
        return get_generator(self.name, widths=widths, **self.kwargs)


class Generator(nn.Module):
    """A generator that declares its channel layout.

    Subclasses build their modules through a `LayoutBuilder` and set `self.layout`; `widths` maps
    group names to channel counts (None = dense), which is how a compact generator is built.
    """

    layout: ChannelLayout
    spec: GeneratorSpec

    @property
    def widths(self) -> dict[str, int]:
        return dict(self._widths)

    def _finish(self, spec: GeneratorSpec, layout: ChannelLayout, widths: Mapping[str, int]) -> None:
        self.spec = spec
        self.layout = layout
        self._widths = {g.name: widths.get(g.name, g.size) for g in layout.groups}


GENERATORS: Registry[Generator] = Registry("generator")
DISCRIMINATORS: Registry[nn.Module] = Registry("discriminator")


@dataclass(frozen=True)
class SizeRule:
    """The input sizes a generator takes: at least `minimum`, a multiple of `multiple` (its
    downsamplings must divide the size evenly for the output to match the input)."""

    minimum: int = 1
    multiple: int = 1

    def fits(self, size: int) -> bool:
        return size >= self.minimum and size % self.multiple == 0

    def rounded(self, size: int) -> int:
        """The size that fits closest to `size` (the reference's preprocess `none` rounds alike)."""
        return max(self.minimum, round(size / self.multiple) * self.multiple)

    def nearest(self, size: int) -> list[int]:
        below = max(self.minimum, size // self.multiple * self.multiple)
        return sorted({below, max(self.minimum, below + self.multiple if below < size else below)})


SIZE_RULES: dict[str, SizeRule] = {}


def register_generator(name: str, minimum: int = 1, multiple: int = 1,
                       ) -> Callable[[Callable[..., Generator]], Callable[..., Generator]]:
    """Register a generator factory under `name`, with the input sizes it takes."""
    SIZE_RULES[name] = SizeRule(minimum, multiple)
    return GENERATORS.register(name)


def size_rule(name: str) -> SizeRule:
    return SIZE_RULES.get(name, SizeRule())




def check_size(name: str, size: int, what: str) -> None:
    """One line when `size` (a crop or --size) is not one the generator `name` takes."""
    if size > MAX_SIDE:
        raise ConfigError(f"{what} {size} is larger than the {MAX_SIDE} pixels coronet takes per side")
    rule = size_rule(name)
    if not rule.fits(size):
        options = " or ".join(str(s) for s in rule.nearest(size))
        raise ConfigError(f"{what} {size} does not fit {name}, which takes sizes of at least "
                          f"{rule.minimum} that are multiples of {rule.multiple}; use {options}")


def get_generator(name: str, widths: Mapping[str, int] | None = None, **kwargs: Any) -> Generator:
    """Build a registered generator; `widths` (group -> channels) builds a compact one."""
    return GENERATORS.get(name)(widths=widths, **kwargs)


def list_generators() -> list[str]:
    return GENERATORS.names()
