"""String registries: ``@CELLS.register("lstm")`` and ``CELLS.create("lstm", ...)``.

One `Registry` per kind of component (cells now; models, datasets, callbacks later), so that
configs, the command line and tests refer to components by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nnzoo.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to constructors, with checked creation."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a class or factory under ``name``."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}"
            )
        return self._entries[name]

    def options(self, name: str) -> dict[str, Any]:
        """The keyword options of ``name`` and their defaults."""
        params = inspect.signature(self.get(name)).parameters
        return {
            key: p.default
            for key, p in params.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
        }

    def create(self, name: str, *args: Any, **options: Any) -> T:
        """Build ``name``. Options set to None are dropped, so unset flags keep the defaults."""
        factory = self.get(name)
        options = {k: v for k, v in options.items() if v is not None}
        accepted = self.options(name)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ConfigError(
                f"{self.kind} {name!r} has no option {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(accepted) or '(none)'}"
            )
        return factory(*args, **options)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
