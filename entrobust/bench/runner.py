"""``entrobust bench``: train (or reuse) every defense × seed, run the attack grid, tabulate.

Stages: (1) train every model the grid needs — the defenses and, for black-box rows, the
paper's proxies (a Normal model for defenses without AT, a PAT model for those with AT,
trained separately with seed ``1000 + seed``); (2) evaluate every cell, skipping the ones
already in ``results.csv``; (3) render the table. A cell is identified by everything that
changes its number (:mod:`entrobust.bench.results`) and seeds its attack RNG from that identity
right before attacking, so a resumed grid gives the same numbers as an uninterrupted one, in
any order; a changed option computes new cells instead of showing old ones.

What is computed is decided before (:mod:`entrobust.bench.plan`), the cells' points and the
cascade's survivors by :mod:`entrobust.bench.cells`; this module trains, attacks, writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from entrobust.atomic import clean_stale_temps, json_safe, write_json, write_text
from entrobust.attacks import get_attack
from entrobust.bench.cells import (
    EvalData,
    bind_cascade,
    bind_points,
    cell_seed,
    in_shard,
    resolve_cells,
    worst_case_rows,
)
from entrobust.bench.grid import (
    CASCADE,
    worst_row,
)
from entrobust.bench.plan import BenchPlan, Shard, plan_models
from entrobust.bench.results import ResultsFile, cell_key, slot_key
from entrobust.bench.table import Table, build_table, to_csv, to_latex, to_markdown
from entrobust.device import resolve_device
from entrobust.environment import environment
from entrobust.errors import InvalidValueError
from entrobust.evaluation import adversarial_flags, craft_cached, robust_flags
from entrobust.progress import progress_bar
from entrobust.statefiles import numbers_only, read_derived_json
from entrobust.training import TrainConfig, TrainedRun, distributed, train
from entrobust.training.runner import Runtime


@dataclass
class BenchResult:
    """Where the results went and the rendered table."""

    results_path: Path
    table: Table
    markdown: str
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


def train_models(
    configs: Sequence[TrainConfig],
    *,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    progress: bool = True,
    runtime: Runtime | None = None,
    data: EvalData | None = None,
) -> tuple[dict[str, TrainedRun], list[str], list[str]]:
    """Train (or reuse) ``configs`` in order: ``(runs by config hash, trained, reused)``
    (run names). Each run is trained by one process only: a process that needs a run
    another one is training waits for it and reuses it (:func:`~entrobust.training.runner.run_lock`)."""
    data = data or EvalData(data_dir, download)
    runs: dict[str, TrainedRun] = {}
    trained: list[str] = []
    reused: list[str] = []
    for cfg in configs:
        run = train(
            cfg,
            runs_dir=runs_dir,
            data_dir=data_dir,
            download=download,
            device=device,
            progress=progress,
            runtime=runtime,
            data=data.split(cfg),
        )
        runs[cfg.hash] = run
        (reused if run.cached else trained).append(cfg.run_name)
    return runs, trained, reused


class _Models:
    """The trained (or reused) runs of a bench, each trained or loaded once, on first need."""

    def __init__(self, **train_kw: Any) -> None:
        self.train_kw = train_kw
        self.runs: dict[str, TrainedRun] = {}
        self.trained: list[str] = []
        self.reused: list[str] = []

    def prepare(self, configs: Sequence[TrainConfig]) -> None:
        """Train or load every one of ``configs`` now, in order."""
        runs, trained, reused = train_models(configs, **self.train_kw)
        self.runs.update(runs)
        self.trained += trained
        self.reused += reused

    def __call__(self, cfg: TrainConfig) -> TrainedRun:
        if cfg.hash not in self.runs:
            self.prepare([cfg])
        return self.runs[cfg.hash]


def _cell_flags(
    plan: BenchPlan,
    cell: dict[str, Any],
    mask: torch.Tensor | None,
    models: _Models,
    data: EvalData,
    out_dir: Path,
    batch_size: int,
) -> torch.Tensor:
    """Per-point robustness of one cell, over all the test points of its model.

    Black-box: the proxy's adversarial examples (crafted once, cached under their own key)
    classified by the target. White-box: the attack on the target, seeded from the cell's
    identity; a cascade cell (``mask``: the survivors of the cells before it) attacks only the
    survivors, and every other point counts as not robust.
    """
    cfg = plan.configs[(cell["defense"], cell["seed"])]
    target = models(cfg)
    split = data.split(cfg)
    attack = get_attack(cell["attack"], plan.options)
    if cell["proxy"]:
        proxy = models(plan.proxies[(cell["defense"], cell["seed"])])
        x_adv = craft_cached(
            proxy.model,
            attack,
            split.x_test,
            split.y_test,
            out_dir / "transfer" / f"{proxy.config.run_name}-{attack.name}"
            f"-r{cell['repeat']}-{attack.config_hash}.pt",
            batch_size,
            identity=f"{proxy.config.hash}|{cell['repeat']}",
        )
        return adversarial_flags(target.model, split.x_test, x_adv, split.y_test, batch_size)
    x, y = split.x_test, split.y_test
    idx = None if mask is None else mask.nonzero().squeeze(1)
    if idx is not None:
        x, y = x[idx], y[idx]
    flags = robust_flags(target.model, attack, x, y, batch_size, seed=cell_seed(cell))
    if idx is None:
        return flags
    return torch.zeros(len(mask), dtype=torch.bool).index_fill_(0, idx[flags], True)


def run_bench(
    plan: BenchPlan,
    *,
    out_dir: str | Path,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    progress: bool = True,
    shard: Shard | None = None,
    batch_size: int = 256,
    runtime: Runtime | None = None,
) -> BenchResult | None:
    """Execute ``plan``; resumable at cell granularity; returns the table.

    Under torchrun (``WORLD_SIZE`` > 1) every rank first trains the models of the shard with
    DDP, in the same order; then only rank 0 evaluates and writes, and the other ranks
    return None.

    Each cell's number depends only on its identity: its attack RNG is seeded from its key
    right before the attack (after any training or loading), and transfer sets are crafted
    with a seed of their own key, so cells can run in any order, be resumed or sharded, and
    give the same ``results.csv``. Cascade cells run after the cells they build on, on their
    survivors only.
    """
    out_dir = Path(out_dir)
    suffix = shard.suffix if shard else ""
    data = EvalData(data_dir, download)
    models = _Models(
        runs_dir=runs_dir,
        data_dir=data_dir,
        download=download,
        device=device,
        progress=progress,
        runtime=runtime,
        data=data,
    )
    ctx = distributed.launched()
    if ctx.active:  # every rank trains each model together (DDP); rank 0 alone evaluates
        models.prepare(plan_models(plan, shard))
        if not ctx.is_main:
            return None
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(out_dir)
    results = ResultsFile(
        out_dir / f"results{suffix}.csv", [slot_key(c) for c in bind_points(plan, data)]
    )
    cells = [c for c in resolve_cells(plan, data, results) if in_shard(plan, c, shard)]
    done = sum(1 for c in cells if c["points"] and results.has(c))
    _write_manifest(plan, out_dir, device)
    timings_path = out_dir / f"timings{suffix}.json"
    bar = progress_bar(
        total=len(cells), initial=done, desc="bench", unit="cell", disable=not progress
    )
    with bar:
        for cell in cells:
            mask = None
            if cell["mode"] == CASCADE:
                mask = bind_cascade(plan, data, results, cell, cells)
                if mask is None:  # cannot happen in order; kept as a guard for hand-edits
                    continue
            if results.has(cell):
                continue
            bar.set_postfix_str(
                f"{cell['defense']} s{cell['seed']} {cell['mode']} {cell['attack']}"
                + (f" r{cell['repeat']}" if plan.attack_repeats > 1 else "")
            )
            t0 = time.perf_counter()
            flags = _cell_flags(plan, cell, mask, models, data, out_dir, batch_size)
            results.add({**cell, "n": len(flags), "accuracy": flags.float().mean().item()}, flags)
            merge_json(
                timings_path, {"|".join(cell_key(cell)): time.perf_counter() - t0}, numbers_only
            )
            bar.update(1)
    result = render(plan, results, out_dir, suffix, cells=resolve_cells(plan, data, results))
    result.trained, result.reused = models.trained, models.reused
    return result


def merge_json(path: Path, entries: dict[str, Any], check: Any = None) -> None:
    """Add ``entries`` to the JSON object in ``path`` under ``<path>.lock``, keeping what
    other processes wrote there meanwhile (benches sharing an ``--out`` lose nothing). Takes
    no lock and writes nothing when every entry is already there (read-only ``--out``)."""
    known = read_derived_json(path, check=check)  # a bad file: one warning, then rebuilt
    if all(known.get(k) == v for k, v in entries.items()):
        return
    with FileLock(str(path) + ".lock"):
        try:  # what others wrote since (quietly: a bad file was reported above)
            fresh = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            fresh = None
        if isinstance(fresh, dict) and (check is None or check(fresh) is None):
            known = fresh
        known.update(entries)
        write_json(path, json_safe(known))


def _write_manifest(plan: BenchPlan, out_dir: Path, device: str) -> None:
    """plan.json (what is computed), attacks.json (every attack's full configuration) and
    environment.json (versions, threads, device) beside the results."""
    read_derived_json(out_dir / "plan.json")  # a bad one: one warning; another plan's: replaced
    write_json(
        out_dir / "plan.json",
        {
            "dataset": plan.dataset,
            "defenses": plan.defenses,
            "seeds": plan.seeds,
            "profile": plan.profile,
            "rows": [r.label for r in plan.rows],
            "attack_repeats": plan.attack_repeats,
            "attack_options": asdict(plan.options),
            "configs": {f"{d}/s{s}": c.run_name for (d, s), c in plan.configs.items()},
        },
    )
    known = {}
    for row in plan.rows:
        atk = get_attack(row.attack, plan.options)
        known[atk.config_hash] = json_safe({"name": atk.name, **atk.config()})
    merge_json(out_dir / "attacks.json", known)
    write_json(out_dir / "environment.json", json_safe(environment(resolve_device(device))))


def render(
    plan: BenchPlan,
    results: ResultsFile,
    out_dir: Path,
    suffix: str = "",
    *,
    cells: Sequence[dict[str, Any]],
) -> BenchResult:
    """Build the table from the results of this plan's ``cells`` (rows of other settings in
    the same file are never shown), add the worst-case rows, write Markdown, CSV and LaTeX."""
    current = [r for c in cells if c["points"] and (r := results.get(c)) is not None]
    worst = worst_case_rows(results, cells)
    ks = sorted({r.k for r in plan.rows if r.k is not None})
    title = (
        f"{plan.dataset} ({next(iter(plan.configs.values())).arch}, profile {plan.profile}, "
        f"seeds {','.join(map(str, plan.seeds))})"
    )
    table = build_table(
        [*current, *worst],
        [*plan.rows, *(worst_row(k) for k in ks)],
        plan.defenses,
        plan.num_classes,
        title,
    )
    table.headline_k = _headline_k(plan, ks)
    md = to_markdown(table)
    write_text(out_dir / f"table{suffix}.md", md)
    write_text(out_dir / f"table{suffix}.csv", to_csv(table))
    write_text(out_dir / f"table{suffix}.tex", to_latex(table))
    if not suffix:  # RobustBench-style model cards, one JSON per defense
        from entrobust.bench.robustbench import write_model_cards

        write_model_cards(plan, table, out_dir)
    return BenchResult(out_dir / f"results{suffix}.csv", table, md)


def _headline_k(plan: BenchPlan, ks: Sequence[int]) -> int | None:
    """The ε the headline is decided at: the training ε when the table has it, else the
    largest ε below it, else the smallest."""
    if not ks:
        return None
    below = [k for k in ks if k <= plan.train_k]
    return max(below) if below else min(ks)


def merge_shards(
    plan: BenchPlan, out_dir: str | Path, *, data_dir: str | Path = "data", download: bool = False
) -> BenchResult:
    """Read every ``results-shard*.csv`` in ``out_dir`` into ``results.csv`` and render it.

    Cells are written in the plan's order, so the merged file equals an unsharded run's.

    Raises:
        InvalidValueError: no shard file and no results in ``out_dir``.
    """
    out_dir = Path(out_dir)
    shard_files = sorted(out_dir.glob("results-shard*.csv"))
    if not shard_files and not (out_dir / "results.csv").is_file():
        raise InvalidValueError(
            f"--merge: no results-shard*.csv or results.csv in {out_dir}; run the shards first"
        )
    data = EvalData(data_dir, download)
    merged = ResultsFile(out_dir / "results.csv", [slot_key(c) for c in bind_points(plan, data)])
    for path in shard_files:
        shard = ResultsFile(path)
        for row in shard.rows:
            flags = shard.flags(row)
            if flags is not None and not merged.has(row):
                merged.add(row, flags)
    return render(plan, merged, out_dir, cells=resolve_cells(plan, data, merged))
