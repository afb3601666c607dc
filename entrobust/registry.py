"""Explicit name → entry registries with helpful errors.

A :class:`Registry` is a read-only :class:`~collections.abc.Mapping`: ``registry[name]`` and
:meth:`Registry.require` raise :class:`~entrobust.errors.UnknownNameError` (a ``KeyError``)
whose one-line message lists the valid names, and ``registry.get(name)`` returns ``None`` (or
the default) as ``Mapping.get`` does. Entries are given at construction or added where they are
defined with :meth:`Registry.register` (timm's ``@register_model`` pattern).

Example:
    >>> from entrobust.registry import Registry
    >>> colours = Registry("colour", {"red": lambda: "#f00", "blue": lambda: "#00f"})
    >>> colours.require("red")()
    '#f00'
    >>> colours.names()
    ['blue', 'red']
    >>> colours.get("green") is None
    True
    >>> colours.require("green")
    Traceback (most recent call last):
    ...
    entrobust.errors.UnknownNameError: unknown colour 'green'; valid: blue, red
    >>> colours.register("green", lambda: "#0f0")()
    '#0f0'
    >>> colours.register("red", lambda: "#e00")
    Traceback (most recent call last):
    ...
    ValueError: colour 'red' is already registered
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from entrobust.errors import UnknownNameError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A mapping from names to entries whose failed lookups name the valid choices."""

    def __init__(self, kind: str, entries: Mapping[str, T] | None = None) -> None:
        self.kind = kind
        self._entries = dict(entries or {})

    def require(self, name: str) -> T:
        """Return the entry for ``name`` or raise :class:`UnknownNameError` listing valid names."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'; valid: {', '.join(self.names())}"
            ) from None

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name`` (a programming error if taken) and return it."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.require(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
