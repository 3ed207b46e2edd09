"""A small name -> factory registry, so the CLI's choices come from what is registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from coronet.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; refuses duplicates and names the choices on a bad lookup."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            choices = ", ".join(sorted(self._factories))
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {choices}") from None

    def names(self) -> list[str]:
        return sorted(self._factories)
