"""Fig. 3 (§5.3): clean and robust accuracy of PAT-EntM (or EntM) as λ varies in [0, 10].

Each λ is an ordinary training run through the cached runner (``make_config(..., lam=λ)`` +
``train``), so a sweep resumes where it stopped and reuses finished runs. The paper's grid is
not stated; the default is :data:`LAMBDA_GRID`. It evaluates on clean examples and PGD40-8;
for a dataset whose training ε differs (MNIST 48/255, digits 32/255) pass another attack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from entrobust.attacks import AttackOptions, get_attack
from entrobust.errors import InvalidValueError
from entrobust.evaluation import accuracy, robust_accuracy
from entrobust.training import TrainConfig, make_config, train
from entrobust.training.rundir import load_run_data

LAMBDA_GRID: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)
SWEEP_DEFENSES: tuple[str, ...] = ("pat-entm", "entm", "trades-entm")


def sweep_configs(
    base: TrainConfig | None,
    lams: Sequence[float],
    *,
    dataset: str | None = None,
    defense: str = "pat-entm",
    profile: str = "quick",
    seed: int = 0,
    data_dir: str | Path | None = None,
    **overrides: Any,
) -> list[TrainConfig]:
    """One config per λ: ``base``'s settings (if given) with ``defense`` and ``lam`` replaced.

    Example:
        >>> [c.lam for c in sweep_configs(None, (0, 2), dataset="digits", profile="ci")]
        [0.0, 2.0]
    """
    if defense not in SWEEP_DEFENSES:
        raise InvalidValueError(
            f"λ sweeps an EntM defense; got {defense!r}, valid: {', '.join(SWEEP_DEFENSES)}"
        )
    if any(lam < 0 for lam in lams):
        raise InvalidValueError("λ must be ≥ 0")
    if base is not None:
        skip = {"dataset", "defense", "profile", "seed", "lam"}
        inherited = {f.name: getattr(base, f.name) for f in fields(base) if f.name not in skip}
        overrides = {**inherited, **{k: v for k, v in overrides.items() if v is not None}}
        dataset, profile, seed = base.dataset, base.profile, base.seed
    if dataset is None:
        raise InvalidValueError("the λ sweep needs --dataset (or --run to copy settings from)")
    data = str(data_dir) if data_dir is not None else None
    return [
        make_config(
            dataset,
            defense,
            profile=profile,
            seed=seed,
            data_dir=data,
            **{**overrides, "lam": float(lam)},
        )
        for lam in lams
    ]


def lambda_sweep(
    configs: Sequence[TrainConfig],
    *,
    attack: str = "pgd40-8",
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    device: str = "auto",
    test_size: int | None = None,
    restarts: int = 5,
    seed: int = 0,
    progress: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Train (or reuse) every config, then evaluate clean and ``attack`` accuracy.

    Returns:
        Columns ``lam, clean_accuracy, robust_accuracy, attack, defense, n, cached, run_dir``.
    """
    get_attack(attack)  # validate the name before any training
    rows = []
    for config in configs:
        run = train(config, runs_dir=runs_dir, data_dir=data_dir, device=device, progress=progress)
        data = load_run_data(run, data_dir, test_size=test_size)
        atk = get_attack(attack, AttackOptions(restarts=restarts, seed=seed))
        torch.manual_seed(seed)
        row = {
            "lam": config.lam,
            "clean_accuracy": accuracy(run.model, data.x_test, data.y_test),
            "robust_accuracy": robust_accuracy(run.model, atk, data.x_test, data.y_test),
            "attack": attack,
            "defense": config.defense,
            "n": len(data.x_test),
            "cached": run.cached,
            "run_dir": str(run.run_dir),
        }
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return pd.DataFrame(rows)


__all__ = ["LAMBDA_GRID", "SWEEP_DEFENSES", "lambda_sweep", "sweep_configs"]
