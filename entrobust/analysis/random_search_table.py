"""Table 10 (Appendix C.1): how many PGD survivors a gradient-free random search breaks.

For each model: run the PGD attack (default ``pgd10-8`` with the paper's 5 restarts; the
table's "PGD8", whose step count the paper does not state), then on every point PGD failed to
break run
:class:`~entrobust.attacks.RandomSearch` (``samples`` random corners of the L∞ ball, paper:
10,000). Breaks there mean PGD's gradients were masked. Points the model already misclassifies
count as broken by PGD (they are not survivors).
"""

from __future__ import annotations

import pandas as pd
from torch import Tensor, nn

from entrobust.attacks import AttackOptions, RandomSearch, get_attack
from entrobust.evaluation import random_search_report
from entrobust.seeding import seeded
from entrobust.tensors import model_device


def random_search_row(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    pgd: str = "pgd10-8",
    eps_k: int = 8,
    samples: int = 10_000,
    restarts: int = 5,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, float | int | str]:
    """Table 10's numbers for one model, plus the settings that produced them.

    Returns:
        ``{"pgd{k}_fails": survivors, "random_succeeds": breaks, "n", "random_success_rate",
        "pgd_attack", "eps_k", "samples"}`` (``k`` = ``eps_k``, so the default keys match
        ``table10.csv``).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> row = random_search_row(model, torch.rand(6, 1, 2, 2), torch.zeros(6, dtype=torch.long),
        ...                         pgd="pgd3-8", samples=20)
        >>> sorted(row)[:3]
        ['eps_k', 'n', 'pgd8_fails']
    """
    with seeded(seed, model_device(model)):
        report = random_search_report(
            model,
            x,
            y,
            get_attack(pgd, AttackOptions(restarts=restarts, seed=seed)),
            RandomSearch(eps_k / 255, samples),
            batch_size,
        )
    return {
        f"pgd{eps_k}_fails": report.pgd_survivors,
        "random_succeeds": report.random_breaks,
        "n": report.n,
        "random_success_rate": report.break_rate,
        "pgd_attack": pgd,
        "eps_k": eps_k,
        "samples": samples,
    }


def random_search_table(rows: dict[str, dict]) -> pd.DataFrame:
    """Rows of :func:`random_search_row` keyed by model name → Table 10's layout.

    Example:
        >>> random_search_table({"pat": {"pgd8_fails": 3, "random_succeeds": 0}}).columns.tolist()
        ['model', 'pgd8_fails', 'random_succeeds']
    """
    return pd.DataFrame([{"model": name, **row} for name, row in rows.items()])


__all__ = ["random_search_row", "random_search_table"]
