"""Regression checks of a bench's numbers against a committed baseline (``entrobust regress``).

A baseline is JSON, in accuracy points (fraction × 100)::

    {
      "tolerance": {"k": 3.0, "floor": 1.0, "default": 5.0},
      "cells": {
        "digits/pat/pgd10-32": {"value": 75.0, "std": 1.1, "seeds": 3},
        "digits/pat/clean":    {"value": 97.0, "tol": 2.0}
      },
      "directions": [
        {"greater": "digits/pat/pgd10-32", "than": "digits/normal/pgd10-32", "by": 20}
      ]
    }

A cell's tolerance is its own ``tol`` when it has one (set by hand, kept by ``--update``);
else ``max(floor, k · std)`` when the baseline measured its spread over ≥ 3 seeds; else the
``default``. A number outside ``value ± tolerance`` fails, as does a baseline cell missing
from a run that has its dataset, a cell the baseline does not know (update it deliberately)
and a stated direction (``greater ≥ than + by``) that does not hold.

Cells are named ``dataset/defense/attack`` for white-box rows and
``dataset/defense/MODE:attack`` for the others (``black-box:pgd10-8``, ``cascade:autoattack-8``);
a cell's value is the mean over seeds of each seed's mean over attack repeats.

Example:
    >>> base = {"cells": {"d/pat/clean": {"value": 90.0, "tol": 2.0}}}
    >>> compare({"d/pat/clean": 91.5}, base)
    []
    >>> [str(f) for f in compare({"d/pat/clean": 80.0}, base)]
    ['d/pat/clean: 80.00 is outside 90.00 ± 2.00']
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entrobust.errors import InvalidValueError, StateFileError

#: Tolerance settings when neither the baseline nor the command line gives them.
K, FLOOR, DEFAULT_TOL = 3.0, 1.0, 5.0
#: Seeds needed before a baseline's tolerance is derived from the measured spread.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Failure:
    """One regression failure, printable as one line."""

    cell: str
    message: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.message}"


@dataclass(frozen=True)
class Measured:
    """A cell's numbers in a results file: mean over seeds, their std, how many seeds."""

    mean: float
    std: float
    seeds: int


def cell_name(row: Mapping[str, str]) -> str:
    """``dataset/defense/attack`` (white-box) or ``dataset/defense/MODE:attack``.

    Example:
        >>> cell_name({"dataset": "svhn", "defense": "pat", "mode": "black-box", "attack": "pgd10-8"})
        'svhn/pat/black-box:pgd10-8'
    """
    attack = row["attack"] if row["mode"] == "white-box" else f"{row['mode']}:{row['attack']}"
    return f"{row['dataset']}/{row['defense']}/{attack}"


def results_files(results: str | Path) -> list[Path]:
    """``DIR/results.csv``, else ``DIR/*/results.csv`` (one per dataset, as ``reproduce``
    writes them), else a file given directly.

    Raises:
        StateFileError: no results file there.
    """
    path = Path(results)
    if path.is_file():
        return [path]
    if (path / "results.csv").is_file():
        return [path / "results.csv"]
    found = sorted(path.glob("*/results.csv"))
    if not found:
        raise StateFileError(
            f"{path} holds no results.csv (nor DIR/*/results.csv); pass a bench's --out folder"
        )
    return found


def measure(
    rows: Iterable[Mapping[str, str]], modes: Sequence[str] | None = None
) -> dict[str, Measured]:
    """Each cell's mean (accuracy points) over seeds of the per-seed mean over repeats.

    Raises:
        InvalidValueError: rows of one dataset from several archs or profiles (keep each
            setting in its own results folder).

    Example:
        >>> rows = [dict(dataset="d", arch="a", profile="ci", defense="pat", mode="white-box",
        ...              attack="clean", seed=str(s), accuracy=str(a))
        ...         for s, a in ((0, 0.90), (1, 0.92), (2, 0.94))]
        >>> m = measure(rows)["d/pat/clean"]
        >>> round(m.mean, 2), round(m.std, 2), m.seeds
        (92.0, 2.0, 3)
    """
    per_seed: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    settings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        if modes is not None and row["mode"] not in modes:
            continue
        settings[row["dataset"]].add((row.get("arch", ""), row.get("profile", "")))
        per_seed[cell_name(row)][str(row.get("seed", ""))].append(100 * float(row["accuracy"]))
    for dataset, found in settings.items():
        if len(found) > 1:
            listed = ", ".join(f"{a}/{p}" for a, p in sorted(found))
            raise InvalidValueError(
                f"results for {dataset} mix several arch/profile settings ({listed}); keep each "
                "setting in its own --out folder and compare them one at a time"
            )
    out = {}
    for name, seeds in per_seed.items():
        means = [statistics.fmean(v) for v in seeds.values()]
        std = statistics.stdev(means) if len(means) > 1 else 0.0
        out[name] = Measured(statistics.fmean(means), std, len(means))
    return out


def read_results(results: str | Path, modes: Sequence[str] | None = None) -> dict[str, Measured]:
    """:func:`measure` over the rows of every results file under ``results``."""
    from entrobust.bench.results import ResultsFile

    rows: list[dict[str, str]] = []
    for path in results_files(results):
        rows += ResultsFile(path).rows
    return measure(rows, modes)


def tolerance(
    spec: Mapping[str, Any], settings: Mapping[str, float] | None = None
) -> tuple[float, str]:
    """A cell's tolerance (points) and how it was set.

    Example:
        >>> tolerance({"value": 50.0, "std": 0.2, "seeds": 3}, {"k": 3, "floor": 1.0})
        (1.0, 'floor')
        >>> tolerance({"value": 50.0, "std": 2.0, "seeds": 3}, {"k": 3, "floor": 1.0})
        (6.0, '3·std')
        >>> tolerance({"value": 50.0, "tol": 4.0})
        (4.0, 'cell')
    """
    s = {"k": K, "floor": FLOOR, "default": DEFAULT_TOL, **(settings or {})}
    if "tol" in spec:
        return float(spec["tol"]), "cell"
    if "std" in spec and int(spec.get("seeds", 0)) >= MIN_SEEDS:
        spread = float(s["k"]) * float(spec["std"])
        return (spread, f"{s['k']:g}·std") if spread > s["floor"] else (float(s["floor"]), "floor")
    return float(s["default"]), "default"


def compare(
    values: Mapping[str, float],
    baseline: Mapping[str, Any],
    settings: Mapping[str, float] | None = None,
) -> list[Failure]:
    """Every baseline cell present and within tolerance; no cell missing from the baseline;
    every stated direction holding. ``settings`` (``k``, ``floor``, ``default``) override the
    baseline's ``tolerance``.
    """
    cells = baseline.get("cells")
    if not isinstance(cells, Mapping):
        raise StateFileError("the baseline has no 'cells' object; write one with --update")
    tol_settings = {**baseline.get("tolerance", {}), **(settings or {})}
    failures = []
    datasets = {k.split("/")[0] for k in values}
    for key, spec in cells.items():
        if key not in values:
            if key.split("/")[0] in datasets:
                failures.append(Failure(key, "missing from this run"))
            continue
        tol, _ = tolerance(spec, tol_settings)
        if not math.isclose(values[key], spec["value"], abs_tol=tol + 1e-9):
            failures.append(
                Failure(key, f"{values[key]:.2f} is outside {spec['value']:.2f} ± {tol:.2f}")
            )
    for key in sorted(values.keys() - cells.keys()):
        failures.append(Failure(key, "not in the baseline (update it deliberately)"))
    failures += check_directions(values, baseline.get("directions", ()))
    return failures


def check_directions(
    values: Mapping[str, float], directions: Iterable[Mapping[str, Any]]
) -> list[Failure]:
    """Stated orderings ``{"greater": A, "than": B, "by": m}``: A ≥ B + m (m may be negative,
    e.g. ``-1``: A may fall at most one point below B). Skipped when either is not measured.

    Example:
        >>> d = [{"greater": "x/pat/pgd10-8", "than": "x/normal/pgd10-8", "by": 20}]
        >>> [str(f) for f in check_directions({"x/pat/pgd10-8": 30, "x/normal/pgd10-8": 25}, d)]
        ['x/pat/pgd10-8: 30.00 is not ≥ x/normal/pgd10-8 (25.00) + 20']
    """
    failures = []
    for d in directions:
        a, b, by = d["greater"], d["than"], float(d.get("by", 0.0))
        if a in values and b in values and values[a] < values[b] + by - 1e-9:
            failures.append(Failure(a, f"{values[a]:.2f} is not ≥ {b} ({values[b]:.2f}) + {by:g}"))
    return failures


def make_baseline(
    measured: Mapping[str, Measured],
    old: Mapping[str, Any] | None = None,
    settings: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A baseline from measured cells: ``value`` (mean), and ``std``/``seeds`` when ≥ 3 seeds
    measured the spread. Hand-set per-cell ``tol`` and the ``directions`` of ``old`` are kept.

    Example:
        >>> doc = make_baseline({"d/pat/clean": Measured(92.0, 2.0, 3)}, settings={"k": 2})
        >>> doc["cells"], doc["tolerance"]["k"]
        ({'d/pat/clean': {'value': 92.0, 'std': 2.0, 'seeds': 3}}, 2)
    """
    import torch

    from entrobust import __version__

    old = old or {}
    old_cells = old.get("cells", {})
    tol = {"k": K, "floor": FLOOR, "default": DEFAULT_TOL, **old.get("tolerance", {})}
    tol.update(settings or {})
    cells: dict[str, dict[str, Any]] = {}
    for key, m in sorted(measured.items()):
        cell: dict[str, Any] = {"value": round(m.mean, 2)}
        if m.seeds >= MIN_SEEDS:
            cell.update(std=round(m.std, 3), seeds=m.seeds)
        if "tol" in old_cells.get(key, {}):
            cell["tol"] = old_cells[key]["tol"]
        cells[key] = cell
    return {
        "about": old.get(
            "about",
            "robust-accuracy baseline (accuracy points); check with `entrobust regress "
            "--results DIR --baseline FILE`, rewrite with --update",
        ),
        "entrobust": __version__,
        "torch": torch.__version__,
        "tolerance": tol,
        "cells": cells,
        "directions": list(old.get("directions", [])),
    }


__all__ = [
    "DEFAULT_TOL",
    "FLOOR",
    "MIN_SEEDS",
    "Failure",
    "K",
    "Measured",
    "cell_name",
    "check_directions",
    "compare",
    "make_baseline",
    "measure",
    "read_results",
    "results_files",
    "tolerance",
]
