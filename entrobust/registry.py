"""Explicit name → factory registries with helpful errors.

Example:
    >>> from entrobust.registry import Registry
    >>> colours = Registry("colour", {"red": lambda: "#f00", "blue": lambda: "#00f"})
    >>> colours.get("red")()
    '#f00'
    >>> colours.names()
    ['blue', 'red']
    >>> colours.get("green")
    Traceback (most recent call last):
    ...
    entrobust.errors.UnknownNameError: unknown colour 'green'; valid: blue, red
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from entrobust.errors import UnknownNameError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping from names to entries whose lookups name the valid choices."""

    def __init__(self, kind: str, entries: Mapping[str, T]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def get(self, name: str) -> T:  # type: ignore[override]
        """Return the entry for ``name`` or raise :class:`UnknownNameError` listing valid names."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'; valid: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
