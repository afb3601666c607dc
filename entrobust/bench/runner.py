"""``entrobust bench``: train (or reuse) every defense × seed, run the attack grid, tabulate.

Stages: (1) train every model the grid needs — the defenses and, for black-box rows, the
paper's proxies (a Normal model for defenses without AT, a PAT model for those with AT,
trained separately with seed ``1000 + seed``); (2) evaluate every cell, skipping the ones
already in ``results.csv``; (3) render the table. Each cell seeds the attack RNG from its own
key, so a resumed grid gives the same numbers as an uninterrupted one, in any order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from entrobust.atomic import write_json, write_text
from entrobust.attacks import AttackOptions, craft_cached, get_attack, proxy_defense
from entrobust.bench.grid import BLACK, WHITE, Row, default_rows, grid_ks
from entrobust.bench.results import ResultsFile, cell_key
from entrobust.bench.results import to_csv as to_results_csv
from entrobust.bench.table import Table, build_table, to_csv, to_latex, to_markdown
from entrobust.data import get_dataset_spec, load_dataset
from entrobust.defenses import DEFENSES
from entrobust.errors import InvalidValueError
from entrobust.evaluation import adversarial_accuracy, robust_accuracy
from entrobust.training import TrainConfig, TrainedRun, make_config, train
from entrobust.training.runner import Runtime

PROXY_SEED_OFFSET = 1000


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count`` (0-based): takes every ``count``-th cell."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` → Shard; 0 ≤ i < n.

        Example:
            >>> Shard.parse("1/4")
            Shard(index=1, count=4)
        """
        try:
            i, n = (int(t) for t in text.split("/"))
        except ValueError:
            raise InvalidValueError(f"--shard takes i/n (e.g. 0/4), got {text!r}") from None
        if not 0 <= i < n:
            raise InvalidValueError(f"--shard i/n needs 0 ≤ i < n, got {text!r}")
        return cls(i, n)

    @property
    def suffix(self) -> str:
        return f"-shard{self.index}of{self.count}"


@dataclass
class BenchPlan:
    """Everything a bench will do, before doing any of it."""

    dataset: str
    defenses: list[str]
    seeds: list[int]
    profile: str
    rows: list[Row]
    configs: dict[tuple[str, int], TrainConfig]
    proxies: dict[tuple[str, int], TrainConfig]
    num_classes: int
    cells: list[dict[str, Any]] = field(default_factory=list)

    @property
    def models(self) -> int:
        return len({c.hash for c in (*self.configs.values(), *self.proxies.values())})


def plan_bench(
    dataset: str,
    defenses: Sequence[str],
    *,
    seeds: Sequence[int] = (0,),
    profile: str = "quick",
    rows: Sequence[Row] | None = None,
    autoattack: bool = False,
    data_dir: str | Path | None = None,
    arch: str | None = None,
    overrides: dict[str, Any] | None = None,
    defense_overrides: dict[str, dict[str, Any]] | None = None,
) -> BenchPlan:
    """Resolve configs, proxies and cells without training anything.

    ``overrides`` apply to every model; ``defense_overrides[name]`` to one defense only (e.g.
    Table 11's per-dataset λ for PAT-EntM), so the others keep their cached runs.

    Example:
        >>> p = plan_bench("digits", ["normal", "pat"], profile="ci")
        >>> p.models, len(p.cells) > 10
        (4, True)
    """
    for d in defenses:
        DEFENSES.get(d)
    spec = get_dataset_spec(dataset, data_dir)
    rows = list(rows) if rows is not None else default_rows(spec)
    if autoattack:
        rows.append(Row(WHITE, f"autoattack-{grid_ks(spec)[1 if len(grid_ks(spec)) > 2 else -1]}"))
    for row in rows:
        get_attack(row.attack)  # validate every name before any work
    extra = dict(overrides or {}, arch=arch)
    data_dir_s = None if data_dir is None else str(data_dir)

    def config(defense: str, seed: int) -> TrainConfig:
        own = (defense_overrides or {}).get(defense, {})
        return make_config(
            dataset, defense, profile=profile, seed=seed, data_dir=data_dir_s, **{**extra, **own}
        )

    configs = {(d, s): config(d, s) for s in seeds for d in defenses}
    proxies: dict[tuple[str, int], TrainConfig] = {}
    if any(r.mode == BLACK for r in rows):
        for d in defenses:
            for s in seeds:
                proxies[(d, s)] = config(proxy_defense(d), PROXY_SEED_OFFSET + s)
    plan = BenchPlan(
        dataset, list(defenses), list(seeds), profile, rows, configs, proxies, spec.num_classes
    )
    for (d, s), cfg in configs.items():
        for row in rows:
            if d == "adp" and row.attack.startswith("cw"):
                continue  # ADP outputs averaged probabilities: the CW logit margin does not apply
            atk = get_attack(row.attack)
            plan.cells.append(
                {
                    "dataset": dataset,
                    "arch": cfg.arch,
                    "defense": d,
                    "seed": s,
                    "profile": profile,
                    "mode": row.mode,
                    "attack": row.attack,
                    "norm": atk.norm,
                    "eps": atk.eps,
                    "steps": getattr(atk, "steps", ""),
                    "proxy": proxies[(d, s)].run_name if row.mode == BLACK else "",
                    "config_hash": cfg.hash,
                }
            )
    return plan


def _cell_seed(cell: dict[str, Any]) -> int:
    return int(hashlib.sha256("|".join(cell_key(cell)).encode()).hexdigest()[:8], 16)


@dataclass
class BenchResult:
    """Where the results went and the rendered table."""

    results_path: Path
    table: Table
    markdown: str


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
    options: AttackOptions | None = None,
    runtime: Runtime | None = None,
) -> BenchResult:
    """Execute ``plan``; resumable at cell granularity; returns the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = shard.suffix if shard else ""
    results = ResultsFile(out_dir / f"results{suffix}.csv")
    cells = [c for i, c in enumerate(plan.cells) if shard is None or i % shard.count == shard.index]
    todo = [c for c in cells if not results.has(c)]
    write_json(
        out_dir / "plan.json",
        {
            "dataset": plan.dataset,
            "defenses": plan.defenses,
            "seeds": plan.seeds,
            "profile": plan.profile,
            "rows": [r.label for r in plan.rows],
            "configs": {f"{d}/s{s}": c.run_name for (d, s), c in plan.configs.items()},
        },
    )

    data = None
    models: dict[str, TrainedRun] = {}

    def model_for(cfg: TrainConfig) -> TrainedRun:
        if cfg.hash not in models:
            models[cfg.hash] = train(
                cfg,
                runs_dir=runs_dir,
                data_dir=data_dir,
                download=download,
                device=device,
                progress=progress,
                runtime=runtime,
            )
        return models[cfg.hash]

    timings_path = out_dir / f"timings{suffix}.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    bar = tqdm(
        total=len(cells),
        initial=len(cells) - len(todo),
        desc="bench",
        unit="cell",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        for cell in todo:
            cfg = plan.configs[(cell["defense"], cell["seed"])]
            target = model_for(cfg)
            if data is None:
                data = load_dataset(
                    cfg.dataset,
                    data_dir=data_dir,
                    download=download,
                    train_size=cfg.train_size,
                    test_size=cfg.test_size,
                    seed=cfg.data_seed,
                )
            bar.set_postfix_str(
                f"{cell['defense']} s{cell['seed']} {cell['mode']} {cell['attack']}"
            )
            t0 = time.perf_counter()
            torch.manual_seed(_cell_seed(cell))
            attack = get_attack(cell["attack"], options)
            if cell["mode"] == WHITE:
                acc = robust_accuracy(target.model, attack, data.x_test, data.y_test, batch_size)
            else:
                proxy = model_for(plan.proxies[(cell["defense"], cell["seed"])])
                cache = out_dir / "transfer" / f"{proxy.config.run_name}-{attack.name}.pt"
                x_adv = craft_cached(
                    proxy.model, attack, data.x_test, data.y_test, cache, batch_size
                )
                acc = adversarial_accuracy(
                    target.model, data.x_test, x_adv, data.y_test, batch_size
                )
            results.add({**cell, "n": len(data.x_test), "accuracy": acc})
            timings["|".join(cell_key(cell))] = time.perf_counter() - t0
            write_json(timings_path, timings)
            bar.update(1)
    return render(plan, results.rows, out_dir, suffix)


def render(
    plan: BenchPlan, rows: list[dict[str, str]], out_dir: Path, suffix: str = ""
) -> BenchResult:
    """Build the table from result rows and write Markdown, CSV and LaTeX beside them."""
    title = (
        f"{plan.dataset} ({next(iter(plan.configs.values())).arch}, profile {plan.profile}, "
        f"seeds {','.join(map(str, plan.seeds))})"
    )
    table = build_table(rows, plan.rows, plan.defenses, plan.num_classes, title)
    md = to_markdown(table)
    write_text(out_dir / f"table{suffix}.md", md)
    write_text(out_dir / f"table{suffix}.csv", to_csv(table))
    write_text(out_dir / f"table{suffix}.tex", to_latex(table))
    return BenchResult(out_dir / f"results{suffix}.csv", table, md)


def merge_shards(plan: BenchPlan, out_dir: str | Path) -> BenchResult:
    """Read every ``results-shard*.csv`` in ``out_dir`` into ``results.csv`` and render it.

    Cells are written in the plan's order, so the merged file equals an unsharded run's.
    """
    out_dir = Path(out_dir)
    found: dict[tuple[str, ...], dict[str, str]] = {}
    for path in sorted(out_dir.glob("results-shard*.csv")):
        for row in ResultsFile(path).rows:
            found[cell_key(row)] = row
    for row in ResultsFile(out_dir / "results.csv").rows:
        found.setdefault(cell_key(row), row)
    ordered = [found[cell_key(c)] for c in plan.cells if cell_key(c) in found]
    write_text(out_dir / "results.csv", to_results_csv(ordered))
    return render(plan, ordered, out_dir)
