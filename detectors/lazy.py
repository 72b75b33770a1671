"""Name → "module:attribute" tables whose entries are imported when a name is first used.

Both registries are one of these: detector types (`riskwatch.detectors.registry`) and series
models (`riskwatch.detectors.series.registry`). The built-in entries are written out where the
table is declared, so reading the table imports nothing and Prophet, PyOD and scikit-learn stay
unloaded until a config or a command line names something that needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


def _split(target: str) -> tuple[str, str]:
    module_name, sep, attribute = target.partition(":")
    if not (module_name and sep and attribute) or ":" in attribute:
        raise ValueError(f"expected 'module:attribute', got {target!r}")
    return module_name, attribute


class LazyRegistry(Mapping[str, str], Generic[T]):
    """Names → "module:attribute" targets; `load(name)` imports the target and returns it.

    Reads as a mapping of the targets. `builtin` keeps the entries it was declared with;
    `register` adds one (a test's stand-in, a plugin) or replaces one.
    """

    def __init__(self, kind: str, entries: Mapping[str, str], base: type | None = None) -> None:
        for target in entries.values():
            _split(target)
        self.kind = kind
        self.builtin: Mapping[str, str] = MappingProxyType(dict(entries))
        self._targets: dict[str, str] = dict(entries)
        self._base = base

    def __getitem__(self, name: str) -> str:
        return self._targets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def register(self, name: str, target: str) -> None:
        """Make `target` ("module:attribute") available under `name`."""
        _split(target)
        self._targets[name] = target

    def unregister(self, name: str) -> None:
        """Remove `name`; a built-in entry comes back as declared."""
        if name in self.builtin:
            self._targets[name] = self.builtin[name]
        else:
            self._targets.pop(name, None)

    def load(self, name: str) -> T:
        """The object registered under `name`, imported now if it was not yet."""
        try:
            target = self._targets[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {sorted(self._targets)}") from None
        module_name, attribute = _split(target)
        loaded: Any = getattr(importlib.import_module(module_name), attribute)
        if self._base is not None and not (isinstance(loaded, type) and issubclass(loaded, self._base)):
            raise TypeError(f"{target} is not a {self._base.__name__}")
        return cast(T, loaded)
