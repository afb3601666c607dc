"""The bench's plan: which models (defense × seed, and the black-box proxies) and which cells
(model × row × repeat) a bench computes, resolved before anything is trained or attacked.

A cell is a dict of everything that identifies its number (:func:`~entrobust.bench.results.cell_key`):
the run's config hash, the attack's full configuration hash, the repeat, the proxy's hash; the
fingerprint of the points it evaluates is bound later (:mod:`entrobust.bench.cells`), when the
data are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entrobust.attacks import AttackOptions, get_attack
from entrobust.bench.grid import (
    BLACK,
    CASCADE,
    WHITE,
    Row,
    cascade_ks,
    cascade_rows,
    default_rows,
    grid_ks,
)
from entrobust.data import get_dataset_spec
from entrobust.defenses import DEFENSES, proxy_defense, trainer_of
from entrobust.errors import InvalidValueError
from entrobust.training import TrainConfig, make_config

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
