"""What every coronet generator exposes: its channel layout and how to rebuild it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

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


def register_generator(name: str) -> Callable[[Callable[..., Generator]], Callable[..., Generator]]:
    return GENERATORS.register(name)


def get_generator(name: str, widths: Mapping[str, int] | None = None, **kwargs: Any) -> Generator:
    """Build a registered generator; `widths` (group -> channels) builds a compact one."""
    return GENERATORS.get(name)(widths=widths, **kwargs)


def list_generators() -> list[str]:
    return GENERATORS.names()
