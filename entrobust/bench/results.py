"""Long-form results: one row per cell, identified by everything that changes its number.

A cell is (dataset, arch, defense, seed, profile, mode, attack, repeat) *and* the run's config
hash, the attack's config hash (restarts, start rule, std, step size, seed, every option),
the fingerprint of the evaluated points and, for black-box cells, the proxy's config hash
(:data:`KEY`). A rerun with any of these changed computes new cells: an old number is never
shown for a new setting. Beside each row, ``flags/<cell id>.npy`` holds which evaluated points
survived (packed bits), from which worst cases are computed exactly.

The CSV is rewritten atomically after every cell, under a file lock that merges what other
processes wrote meanwhile (two benches sharing an ``--out`` lose nothing). Rows are kept in the
order of the plan that wrote them, so a resumed bench writes the same file as an
uninterrupted one. Timings live in a separate file for the same reason.

A results file is never trusted blindly: rows with a missing or malformed field, an accuracy
outside [0, 1] or a duplicate key are dropped with one warning and recomputed; a file that
is not a results CSV at all is moved aside (never deleted) and the bench starts afresh.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock

from entrobust.atomic import warn, write_bytes, write_text
from entrobust.errors import StateFileError

COLUMNS = (
    "dataset",
    "arch",
    "defense",
    "seed",
    "profile",
    "mode",
    "attack",
    "repeat",
    "norm",
    "eps",
    "steps",
    "n",
    "accuracy",
    "proxy",
    "config_hash",
    "attack_hash",
    "points",
    "proxy_hash",
)
KEY = (
    "dataset",
    "arch",
    "defense",
    "seed",
    "profile",
    "mode",
    "attack",
    "repeat",
    "config_hash",
    "attack_hash",
    "points",
    "proxy_hash",
)
_REQUIRED = tuple(k for k in KEY if k != "proxy_hash")


_SLOT = tuple(k for k in KEY if k != "points")


def _fields(row: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("" if row.get(k) is None else str(row[k]) for k in keys)


def cell_key(row: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a cell (what a rerun looks up)."""
    return _fields(row, KEY)


def slot_key(row: dict[str, Any]) -> tuple[str, ...]:
    """A cell's place in its plan: its key without the points (which a cascade cell only
    knows once the cells before it have run)."""
    return _fields(row, _SLOT)


def cell_id(row: dict[str, Any]) -> str:
    """16 hex digits naming a cell's files (its flags).

    Example:
        >>> row = dict.fromkeys(KEY, "x")
        >>> len(cell_id(row)), cell_id(row) == cell_id({**row, "repeat": "1"})
        (16, False)
    """
    return hashlib.sha256("|".join(cell_key(row)).encode()).hexdigest()[:16]


def _problem(row: dict[str, Any]) -> str | None:
    """Why a row read from disk cannot be trusted, or None."""
    if None in row or any(row.get(k) is None for k in COLUMNS):
        return "torn or with the wrong number of fields"
    if any(not row[k] for k in _REQUIRED):
        return "missing part of its key"
    try:
        acc, n = float(row["accuracy"]), int(row["n"])
    except ValueError:
        return f"non-numeric accuracy {row['accuracy']!r} or n {row['n']!r}"
    if not (math.isfinite(acc) and 0.0 <= acc <= 1.0) or n < 1:
        return f"accuracy {row['accuracy']} outside [0, 1] or n {row['n']} < 1"
    return None


class ResultsFile:
    """A results CSV that grows one cell at a time, safely shared between processes.

    Args:
        path: the CSV (its lock is ``<path>.lock``, flags go to ``<dir>/flags/``).
        order: :func:`slot_key` s in the order of the plan writing to it (rows of other plans
            first, in their own order).

    Example:
        >>> import tempfile, pathlib, torch
        >>> rf = ResultsFile(pathlib.Path(tempfile.mkdtemp()) / "results.csv")
        >>> row = dict.fromkeys(COLUMNS, "x")
        >>> row.update(seed=0, repeat=0, n=4, accuracy=0.5)
        >>> rf.add(row, torch.tensor([True, False, True, False]))
        >>> again = ResultsFile(rf.path)
        >>> again.has(row), again.flags(row).tolist()
        (True, [True, False, True, False])
    """

    def __init__(self, path: str | Path, order: Sequence[tuple[str, ...]] = ()) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StateFileError(f"{self.path} is a directory, not a results file; move it away")
        self.flags_dir = self.path.parent / "flags"
        self._order = {k: i for i, k in enumerate(order)}
        self._flags_cache: dict[str, torch.Tensor | None] = {}
        self._set_rows(self._read())

    def _set_rows(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        self._index = {cell_key(r): r for r in rows}

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return self._set_aside("is not UTF-8 text")
        if not text.strip():
            return []
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != COLUMNS:
            return self._set_aside("does not start with this version's results header")
        rows, seen, dropped = [], set(), []
        for i, row in enumerate(reader, start=2):
            problem = _problem(row)
            if problem is None and cell_key(row) in seen:
                problem = "a duplicate of an earlier row"
            if problem:
                dropped.append(f"line {i}: {problem}")
                continue
            seen.add(cell_key(row))
            rows.append(row)
        if dropped:
            warn(
                f"{self.path}: {len(dropped)} bad row(s) dropped and will be recomputed "
                f"({'; '.join(dropped[:3])}{' …' if len(dropped) > 3 else ''})"
            )
        return rows

    def _set_aside(self, why: str) -> list[dict[str, str]]:
        for i in range(1, 1000):
            aside = self.path.with_name(f"{self.path.name}.bad{i}")
            if not aside.exists():
                break
        try:
            self.path.rename(aside)
        except OSError as err:
            raise StateFileError(
                f"{self.path} {why} and cannot be moved aside ({err.strerror}); move it away"
            ) from None
        warn(f"{self.path} {why}; moved to {aside.name}, its cells will be recomputed")
        return []

    def _flags_path(self, row: dict[str, Any]) -> Path:
        return self.flags_dir / f"{cell_id(row)}.npy"

    def flags(self, row: dict[str, Any]) -> torch.Tensor | None:
        """The per-point robust flags of a recorded cell, or None if missing or invalid
        (read from disk once per cell; a cell's flags file is written once, by ``add``)."""
        key = cell_id(row)
        if key not in self._flags_cache:
            self._flags_cache[key] = self._load_flags(row)
        return self._flags_cache[key]

    def _load_flags(self, row: dict[str, Any]) -> torch.Tensor | None:
        path = self._flags_path(row)
        try:
            n = int(row["n"])
            packed = np.load(path, allow_pickle=False)
        except (OSError, ValueError, KeyError):
            return None
        if packed.dtype != np.uint8 or packed.ndim != 1 or len(packed) != (n + 7) // 8:
            return None
        flags = torch.from_numpy(np.unpackbits(packed)[:n].astype(bool))
        acc = float(row["accuracy"])
        if abs(flags.float().mean().item() - acc) > 0.5 / n:
            return None  # flags that do not give the row's accuracy belong to nothing
        return flags

    def has(self, row: dict[str, Any]) -> bool:
        """Whether the cell of ``row`` is recorded with valid flags."""
        return self.cell_flags(row) is not None

    def get(self, row: dict[str, Any]) -> dict[str, str] | None:
        """The recorded row of ``row``'s cell, or None."""
        return self._index.get(cell_key(row))

    def cell_flags(self, row: dict[str, Any]) -> torch.Tensor | None:
        """The flags of ``row``'s cell if it is recorded with valid ones, else None."""
        found = self.get(row)
        return None if found is None else self.flags(found)

    def add(self, row: dict[str, Any], flags: torch.Tensor) -> None:
        """Record a finished cell and its flags; merges other writers' rows under the lock."""
        flags = flags.detach().cpu().bool()
        if int(row["n"]) != len(flags):
            raise ValueError(f"cell has n={row['n']} but {len(flags)} flags")
        buf = io.BytesIO()
        np.save(buf, np.packbits(flags.numpy()), allow_pickle=False)
        self.flags_dir.mkdir(parents=True, exist_ok=True)
        write_bytes(self._flags_path(row), buf.getvalue())
        self._flags_cache.pop(cell_id(row), None)
        new = {k: _fmt(row.get(k)) for k in COLUMNS}
        with FileLock(str(self.path) + ".lock"):
            merged = {cell_key(r): r for r in self._read()}  # what others wrote meanwhile
            for r in self.rows:
                merged.setdefault(cell_key(r), r)
            merged[cell_key(new)] = new
            self._set_rows(self._sorted(list(merged.values())))
            write_text(self.path, to_csv(self.rows))

    def _sorted(self, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        first = len(self._order)
        return sorted(
            rows, key=lambda r: self._order.get(slot_key(r), -1) if self._order else first
        )


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(rows: list[dict[str, str]]) -> str:
    """Render rows as CSV text with the standard columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
