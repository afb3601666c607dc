"""Long-form results: one row per (dataset, arch, defense, seed, profile, mode, attack) cell.

The CSV is rewritten atomically after every cell, so a run killed at any point leaves a valid
file and a rerun skips the cells already there. Timings live in a separate file so that the
results of an interrupted-and-resumed run are byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from entrobust.atomic import write_text

COLUMNS = (
    "dataset",
    "arch",
    "defense",
    "seed",
    "profile",
    "mode",
    "attack",
    "norm",
    "eps",
    "steps",
    "n",
    "accuracy",
    "proxy",
    "config_hash",
)
KEY = ("dataset", "arch", "defense", "seed", "profile", "mode", "attack")


def cell_key(row: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a cell (what a rerun looks up)."""
    return tuple(str(row[k]) for k in KEY)


class ResultsFile:
    """A results CSV that grows one cell at a time.

    Example:
        >>> import tempfile, pathlib
        >>> rf = ResultsFile(pathlib.Path(tempfile.mkdtemp()) / "results.csv")
        >>> row = dict.fromkeys(COLUMNS, "")
        >>> row.update(dataset="digits", arch="tiny", defense="pat", seed=0, profile="ci",
        ...            mode="white-box", attack="clean", accuracy=0.9)
        >>> rf.add(row); ResultsFile(rf.path).has(row)
        True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, str]] = []
        if self.path.is_file():
            with self.path.open(newline="") as f:
                self.rows = list(csv.DictReader(f))
        self._keys = {cell_key(r) for r in self.rows}

    def has(self, row: dict[str, Any]) -> bool:
        """Whether the cell of ``row`` is already recorded."""
        return cell_key(row) in self._keys

    def add(self, row: dict[str, Any]) -> None:
        """Record a finished cell and rewrite the file atomically."""
        self.rows.append({k: _fmt(row.get(k)) for k in COLUMNS})
        self._keys.add(cell_key(row))
        write_text(self.path, to_csv(self.rows))


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(rows: list[dict[str, str]]) -> str:
    """Render rows as CSV text with the standard columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
