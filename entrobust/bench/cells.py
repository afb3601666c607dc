"""The cells of a plan bound to their data: the fingerprint of the points each evaluates, the
cascade's survivors, each cell's attack seed, and the exact worst-case rows from per-point flags.

A cascade cell evaluates only the points that every earlier cell of the same model at the same ε
left robust; its ``points`` are the fingerprint of those survivors, so it is recomputed whenever
an earlier cell changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from entrobust.bench.grid import (
    CASCADE,
    WORST,
    Row,
    worst_row,
)
from entrobust.bench.plan import BenchPlan, Shard
from entrobust.bench.results import ResultsFile, cell_key
from entrobust.data import DatasetSplits
from entrobust.data.splits import fingerprint
from entrobust.training import TrainConfig
from entrobust.training.runner import load_config_data


def _seed_of(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def cell_seed(cell: dict[str, Any]) -> int:
    return _seed_of(*cell_key(cell))


class EvalData:
    """The evaluation data of each config, loaded once per distinct split."""

    def __init__(self, data_dir: str | Path, download: bool) -> None:
        self.data_dir, self.download = data_dir, download
        self._splits: dict[tuple[Any, ...], DatasetSplits] = {}
        self._points: dict[tuple[Any, ...], str] = {}

    @staticmethod
    def _key(cfg: TrainConfig) -> tuple[Any, ...]:
        return (cfg.dataset, cfg.train_size, cfg.test_size, cfg.data_seed)

    def split(self, cfg: TrainConfig) -> DatasetSplits:
        key = self._key(cfg)
        if key not in self._splits:
            self._splits[key] = load_config_data(cfg, self.data_dir, self.download)
        return self._splits[key]

    def points(self, cfg: TrainConfig) -> str:
        """Fingerprint of the points ``cfg``'s cells evaluate (test images and labels)."""
        key = self._key(cfg)
        if key not in self._points:
            data = self.split(cfg)
            self._points[key] = fingerprint(data.x_test, data.y_test)
        return self._points[key]


def bind_points(plan: BenchPlan, data: EvalData) -> list[dict[str, Any]]:
    """The plan's cells with the fingerprint of their evaluated points filled in."""
    return [
        {**c, "points": data.points(plan.configs[(c["defense"], c["seed"])])} for c in plan.cells
    ]


def in_shard(plan: BenchPlan, cell: dict[str, Any], shard: Shard | None) -> bool:
    if shard is None:
        return True
    models = list(plan.configs)
    return models.index((cell["defense"], cell["seed"])) % shard.count == shard.index


def _survivors(
    results: ResultsFile, cell: dict[str, Any], cells: list[dict[str, Any]], n: int
) -> torch.Tensor | None:
    """The points every earlier cell of the same model at the same ε left robust (a bool
    tensor of length ``n``), or None while one of those cells is missing."""
    k = Row(cell["mode"], cell["attack"]).k
    earlier = []
    for other in cells:
        if other is cell:
            break
        if (
            other["config_hash"] == cell["config_hash"]
            and Row(other["mode"], other["attack"]).k == k
        ):
            earlier.append(other)
    return joint_flags(results, earlier, n)


def joint_flags(
    results: ResultsFile, cells: Sequence[dict[str, Any]], n: int | None = None
) -> torch.Tensor | None:
    """The points robust in every one of ``cells`` (all ``n`` points for none), or None while
    one of them is not recorded with valid flags (of length ``n`` when given)."""
    mask = None if n is None else torch.ones(n, dtype=torch.bool)
    for c in cells:
        flags = results.cell_flags(c) if c["points"] else None
        if flags is None or (mask is not None and len(flags) != len(mask)):
            return None
        mask = flags.clone() if mask is None else mask & flags
    return mask


def resolve_cells(plan: BenchPlan, data: EvalData, results: ResultsFile) -> list[dict[str, Any]]:
    """The plan's cells with their points bound; a cascade cell's points are the survivors
    of the cells before it (left empty while those are not all recorded)."""
    cells = bind_points(plan, data)
    for cell in cells:
        if cell["mode"] == CASCADE:
            bind_cascade(plan, data, results, cell, cells)
    return cells


def bind_cascade(
    plan: BenchPlan,
    data: EvalData,
    results: ResultsFile,
    cell: dict[str, Any],
    cells: list[dict[str, Any]],
) -> torch.Tensor | None:
    """Set a cascade cell's points to its survivors' fingerprint and return their mask (or
    leave the points empty and return None while a cell it builds on is missing)."""
    cfg = plan.configs[(cell["defense"], cell["seed"])]
    mask = _survivors(results, cell, cells, len(data.split(cfg).y_test))
    cell["points"] = "" if mask is None else _subset_points(data.points(cfg), mask)
    return mask


def _subset_points(points: str, mask: torch.Tensor) -> str:
    return fingerprint(torch.tensor([int(points, 16) % 2**62]), mask.to(torch.uint8))


def worst_case_rows(results: ResultsFile, cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``worst-case epsK`` result row per model and ε: the fraction of points that
    survive every attack evaluated at that ε (white-box, black-box, cascade, every repeat),
    computed exactly from the per-point flags — never a minimum of percentages. A model
    with a cell at that ε still missing gets no row.
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for c in cells:
        k = Row(c["mode"], c["attack"]).k
        if k is not None:
            groups.setdefault((c["config_hash"], k), []).append(c)
    out = []
    for (_, k), group in groups.items():
        mask = joint_flags(results, group)
        if mask is not None:
            first = group[0]
            out.append(
                {
                    "mode": WORST,
                    "attack": worst_row(k).attack,
                    "defense": first["defense"],
                    "seed": first["seed"],
                    "repeat": 0,
                    "n": len(mask),
                    "accuracy": mask.float().mean().item(),
                    "attacks": len({(c["mode"], c["attack"]) for c in group}),
                }
            )
    return out
