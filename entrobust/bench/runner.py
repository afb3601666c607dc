"""``entrobust bench``: train (or reuse) every defense × seed, run the attack grid, tabulate.

Stages: (1) train every model the grid needs — the defenses and, for black-box rows, the
paper's proxies (a Normal model for defenses without AT, a PAT model for those with AT,
trained separately with seed ``1000 + seed``); (2) evaluate every cell, skipping the ones
already in ``results.csv``; (3) render the table. A cell is identified by everything that
changes its number (:mod:`entrobust.bench.results`) and seeds its attack RNG from that identity
right before attacking, so a resumed grid gives the same numbers as an uninterrupted one, in
any order; a changed option computes new cells instead of showing old ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from entrobust.atomic import clean_stale_temps, json_safe, write_json, write_text
from entrobust.attacks import AttackOptions, get_attack
from entrobust.bench.grid import (
    BLACK,
    CASCADE,
    WHITE,
    WORST,
    Row,
    cascade_ks,
    cascade_rows,
    default_rows,
    grid_ks,
    worst_row,
)
from entrobust.bench.results import ResultsFile, cell_key, slot_key
from entrobust.bench.table import Table, build_table, to_csv, to_latex, to_markdown
from entrobust.data import DatasetSplits, get_dataset_spec
from entrobust.data.splits import fingerprint
from entrobust.defenses import DEFENSES, proxy_defense, trainer_of
from entrobust.device import resolve_device
from entrobust.environment import environment
from entrobust.errors import InvalidValueError
from entrobust.evaluation import adversarial_flags, craft_cached, robust_flags
from entrobust.progress import progress_bar
from entrobust.statefiles import numbers_only, read_derived_json
from entrobust.training import TrainConfig, TrainedRun, distributed, make_config, train
from entrobust.training.runner import Runtime, load_config_data

PROXY_SEED_OFFSET = 1000


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count`` (0-based): takes every ``count``-th model (defense ×
    seed) with all its cells, so a cascade finds the cells it builds on in its own shard."""

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
    options: AttackOptions = field(default_factory=AttackOptions)
    attack_repeats: int = 1

    @property
    def models(self) -> int:
        return len({c.hash for c in (*self.configs.values(), *self.proxies.values())})

    @property
    def train_k(self) -> int:
        """The training ε as k in k/255 (the plan's runs share the dataset's adversary)."""
        return round(next(iter(self.configs.values())).at_eps * 255)


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
    options: AttackOptions | None = None,
    attack_repeats: int = 1,
    cascade: bool | None = None,
    cascade_eps: Sequence[int] | None = None,
) -> BenchPlan:
    """Resolve configs, proxies and cells without training anything.

    ``cascade`` (default: on for the default rows, off for explicit ``rows``) adds, at every
    ε of ``cascade_eps`` (k in k/255; default :func:`~entrobust.bench.grid.cascade_ks`: every
    ε up to twice the training ε with the paper profile, the training ε with the small
    profiles), the smoothed-label adaptive attack and
    AutoAttack standard as a cascade: each is tried only on the points that every earlier
    attack at that ε left robust, so the worst-case row costs far less than running every
    attack on every point.

    ``overrides`` apply to every model; ``defense_overrides[name]`` to one defense only (e.g.
    Table 11's per-dataset λ for PAT-EntM), so the others keep their cached runs. Each attack
    that draws random numbers is evaluated ``attack_repeats`` times with different seeds (the
    paper's "each PGD repeated 3 times"); deterministic ones (clean, FGSM) once.

    Example:
        >>> p = plan_bench("digits", ["normal", "pat"], profile="ci")
        >>> p.models, len(p.cells) > 10
        (4, True)
    """
    for d in defenses:
        DEFENSES.require(d)
    if attack_repeats < 1:
        raise InvalidValueError(f"--attack-repeats must be ≥ 1, got {attack_repeats}")
    options = options or AttackOptions()
    spec = get_dataset_spec(dataset, data_dir)
    if cascade is None:
        cascade = rows is None
    rows = list(rows) if rows is not None else default_rows(spec)
    if cascade:
        ks = tuple(cascade_eps) if cascade_eps else cascade_ks(spec, profile)
        rows += cascade_rows(spec, rows, ks)
    if autoattack:
        rows.append(Row(WHITE, f"autoattack-{grid_ks(spec)[1 if len(grid_ks(spec)) > 2 else -1]}"))
    attacks = {row.attack: get_attack(row.attack, options) for row in rows}  # validate first
    extra = {**(overrides or {}), **({"arch": arch} if arch else {})}
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
        dataset,
        list(defenses),
        list(seeds),
        profile,
        rows,
        configs,
        proxies,
        spec.num_classes,
        options=options,
        attack_repeats=attack_repeats,
    )
    for (d, s), cfg in configs.items():
        for row in rows:
            if not trainer_of(d).evaluated_under(row.attack):
                continue  # e.g. ADP under CW (see the trainer's skip_reason)
            atk = attacks[row.attack]
            proxy = proxies[(d, s)] if row.mode == BLACK else None
            runs = attack_repeats if atk.randomized and row.mode != CASCADE else 1
            for repeat in range(runs):
                plan.cells.append(
                    {
                        "dataset": dataset,
                        "arch": cfg.arch,
                        "defense": d,
                        "seed": s,
                        "profile": profile,
                        "mode": row.mode,
                        "attack": row.attack,
                        "repeat": repeat,
                        "norm": atk.norm,
                        "eps": atk.eps,
                        "steps": getattr(atk, "steps", ""),
                        "proxy": proxy.run_name if proxy else "",
                        "config_hash": cfg.hash,
                        "attack_hash": atk.config_hash,
                        "points": "",  # the evaluated points' fingerprint, bound by run_bench
                        "proxy_hash": proxy.hash if proxy else "",
                    }
                )
    return plan


def _seed_of(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _cell_seed(cell: dict[str, Any]) -> int:
    return _seed_of(*cell_key(cell))


@dataclass
class BenchResult:
    """Where the results went and the rendered table."""

    results_path: Path
    table: Table
    markdown: str
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


class _Data:
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


def bind_points(plan: BenchPlan, data: _Data) -> list[dict[str, Any]]:
    """The plan's cells with the fingerprint of their evaluated points filled in."""
    return [
        {**c, "points": data.points(plan.configs[(c["defense"], c["seed"])])} for c in plan.cells
    ]


def _in_shard(plan: BenchPlan, cell: dict[str, Any], shard: Shard | None) -> bool:
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
    return _joint_flags(results, earlier, n)


def _joint_flags(
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


def resolve_cells(plan: BenchPlan, data: _Data, results: ResultsFile) -> list[dict[str, Any]]:
    """The plan's cells with their points bound; a cascade cell's points are the survivors
    of the cells before it (left empty while those are not all recorded)."""
    cells = bind_points(plan, data)
    for cell in cells:
        if cell["mode"] == CASCADE:
            _bind_cascade(plan, data, results, cell, cells)
    return cells


def _bind_cascade(
    plan: BenchPlan,
    data: _Data,
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


def plan_models(
    plan: BenchPlan, shard: Shard | None = None, *, spread: bool = False
) -> list[TrainConfig]:
    """The distinct models (by config hash) a plan — or one shard of it — needs, in a fixed
    order: the defenses in plan order, then the black-box proxies.

    With ``spread`` (``bench --train-only``), a shard takes every ``count``-th model of the
    whole list, proxies included, so a job array trains every model exactly once between its
    workers; without it (the attack phase), a shard needs the models of its own cells: its
    defenses and their proxies.

    Example:
        >>> p = plan_bench("digits", ["normal", "entm", "pat"], profile="ci", rows=[Row(BLACK, "fgsm16")])
        >>> [c.defense for c in plan_models(p)]
        ['normal', 'entm', 'pat', 'normal', 'pat']
        >>> [len(plan_models(p, Shard(i, 2), spread=True)) for i in (0, 1)]
        [3, 2]
        >>> [c.defense for c in plan_models(p, Shard(1, 2))]
        ['entm', 'normal']
    """
    targets = list(plan.configs)
    if shard is not None and not spread:
        targets = [m for i, m in enumerate(targets) if i % shard.count == shard.index]
    configs = [plan.configs[m] for m in targets]
    configs += [plan.proxies[m] for m in targets if m in plan.proxies]
    unique = list({c.hash: c for c in configs}.values())
    if shard is not None and spread:
        unique = [c for i, c in enumerate(unique) if i % shard.count == shard.index]
    return unique


def train_models(
    configs: Sequence[TrainConfig],
    *,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    progress: bool = True,
    runtime: Runtime | None = None,
    data: _Data | None = None,
) -> tuple[dict[str, TrainedRun], list[str], list[str]]:
    """Train (or reuse) ``configs`` in order: ``(runs by config hash, trained, reused)``
    (run names). Each run is trained by one process only: a process that needs a run
    another one is training waits for it and reuses it (:func:`~entrobust.training.runner.run_lock`)."""
    data = data or _Data(data_dir, download)
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
    data = _Data(data_dir, download)
    train_kw: dict[str, Any] = dict(
        runs_dir=runs_dir,
        data_dir=data_dir,
        download=download,
        device=device,
        progress=progress,
        runtime=runtime,
        data=data,
    )
    models: dict[str, TrainedRun] = {}
    trained: list[str] = []
    reused: list[str] = []
    ctx = distributed.launched()
    if ctx.active:  # every rank trains each model together (DDP); rank 0 alone evaluates
        models, trained, reused = train_models(plan_models(plan, shard), **train_kw)
        if not ctx.is_main:
            return None
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(out_dir)
    results = ResultsFile(
        out_dir / f"results{suffix}.csv", [slot_key(c) for c in bind_points(plan, data)]
    )
    cells = [c for c in resolve_cells(plan, data, results) if _in_shard(plan, c, shard)]
    done = sum(1 for c in cells if c["points"] and results.has(c))
    _write_manifest(plan, out_dir, device)

    def model_for(cfg: TrainConfig) -> TrainedRun:
        if cfg.hash not in models:
            runs, new, old = train_models([cfg], **train_kw)
            models.update(runs)
            trained.extend(new)
            reused.extend(old)
        return models[cfg.hash]

    timings_path = out_dir / f"timings{suffix}.json"
    bar = progress_bar(
        total=len(cells), initial=done, desc="bench", unit="cell", disable=not progress
    )
    with bar:
        for cell in cells:
            mask = None
            if cell["mode"] == CASCADE:
                mask = _bind_cascade(plan, data, results, cell, cells)
                if mask is None:  # cannot happen in order; kept as a guard for hand-edits
                    continue
            if results.has(cell):
                continue
            cfg = plan.configs[(cell["defense"], cell["seed"])]
            target = model_for(cfg)
            proxy = (
                model_for(plan.proxies[(cell["defense"], cell["seed"])]) if cell["proxy"] else None
            )
            split = data.split(cfg)
            bar.set_postfix_str(
                f"{cell['defense']} s{cell['seed']} {cell['mode']} {cell['attack']}"
                + (f" r{cell['repeat']}" if plan.attack_repeats > 1 else "")
            )
            t0 = time.perf_counter()
            attack = get_attack(cell["attack"], plan.options)
            if proxy is not None:
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
                flags = adversarial_flags(
                    target.model, split.x_test, x_adv, split.y_test, batch_size
                )
            else:
                idx = None if mask is None else mask.nonzero().squeeze(1)
                x, y = (
                    (split.x_test, split.y_test)
                    if idx is None
                    else (split.x_test[idx], split.y_test[idx])
                )
                sub = (
                    robust_flags(target.model, attack, x, y, batch_size, seed=_cell_seed(cell))
                    if len(y)
                    else torch.zeros(0, dtype=torch.bool)
                )
                flags = (
                    sub
                    if idx is None
                    else torch.zeros(len(mask), dtype=torch.bool).index_fill_(0, idx[sub], True)
                )
            acc = flags.float().mean().item()
            results.add({**cell, "n": len(flags), "accuracy": acc}, flags)
            merge_json(
                timings_path, {"|".join(cell_key(cell)): time.perf_counter() - t0}, numbers_only
            )
            bar.update(1)
    result = render(plan, results, out_dir, suffix, cells=resolve_cells(plan, data, results))
    result.trained, result.reused = trained, reused
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
        mask = _joint_flags(results, group)
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
    data = _Data(data_dir, download)
    merged = ResultsFile(out_dir / "results.csv", [slot_key(c) for c in bind_points(plan, data)])
    for path in shard_files:
        shard = ResultsFile(path)
        for row in shard.rows:
            flags = shard.flags(row)
            if flags is not None and not merged.has(row):
                merged.add(row, flags)
    return render(plan, merged, out_dir, cells=resolve_cells(plan, data, merged))
