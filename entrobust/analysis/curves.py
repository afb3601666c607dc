"""Accuracy–ε (Fig. 1) and accuracy–#steps (Fig. 2) curves, the paper's §5.2.2 sanity checks.

* ε-curve: PGD with ε = k/255, step 2/255 and k iterations for each k (paper: k ∈ [10, 150],
  grid not stated; default :data:`EPS_CURVE_KS`).
* steps-curve: for ε ∈ {8, 16}/255, k steps with step size ``max(1/510, 2ε/k)`` (paper:
  k ∈ [8, 256], grid not stated; default powers of 2, :data:`STEPS_CURVE_STEPS`), plus the
  adaptive smoothed-label attack (:class:`~entrobust.attacks.AdaptiveSmoothedPGD`, worst case
  over γ per example) with the same ε, steps and step rule.

Both use the paper's Gaussian random start ``N(0, 0.005)`` and, by default, one start per
attack (the figures are trends; the paper's "5 restarts for all attacks" is ``restarts=5``).
Accuracy counts a point as robust only if it is classified correctly both clean and attacked.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from torch import Tensor, nn

from entrobust.attacks import AdaptiveSmoothedPGD, PGDAttack
from entrobust.attacks.adaptive import GAMMAS
from entrobust.attacks.base import Attack
from entrobust.evaluation import robust_accuracy

EPS_CURVE_KS: tuple[int, ...] = (10, 20, 40, 70, 100, 150)
STEPS_CURVE_EPS: tuple[int, ...] = (8, 16)
STEPS_CURVE_STEPS: tuple[int, ...] = (8, 16, 32, 64, 128, 256)


def steps_curve_step_size(eps: float, steps: int) -> float:
    """The paper's Fig. 2 step rule ``max(1/510, 2ε/k)``.

    Example:
        >>> round(steps_curve_step_size(8 / 255, 8) * 255, 3), round(steps_curve_step_size(8 / 255, 64) * 255, 3)
        (2.0, 0.5)
    """
    return max(1 / 510, 2 * eps / steps)


def _seeded_accuracy(
    model: nn.Module, attack: Attack, x: Tensor, y: Tensor, seed: int, batch_size: int
) -> float:
    return robust_accuracy(model, attack, x, y, batch_size, seed=seed)


def eps_curve(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    ks: Sequence[int] = EPS_CURVE_KS,
    *,
    restarts: int = 1,
    init_std: float = 0.005,
    seed: int = 0,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Fig. 1: robust accuracy under PGD(ε = k/255, step 2/255, k steps) for each ``k``.

    Returns:
        Columns ``k, eps, steps, step_size, accuracy`` (accuracy as a fraction).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(6, 1, 2, 2), torch.randint(0, 3, (6,))
        >>> eps_curve(model, x, y, ks=(2, 4)).columns.tolist()
        ['k', 'eps', 'steps', 'step_size', 'accuracy']
    """
    rows = []
    for k in ks:
        attack = PGDAttack(
            k / 255,
            steps=k,
            step_size=2 / 255,
            restarts=restarts,
            init="normal",
            init_std=init_std,
            name=f"pgd{k}-{k}-step2",
        )
        acc = _seeded_accuracy(model, attack, x, y, seed, batch_size)
        rows.append({"k": k, "eps": k / 255, "steps": k, "step_size": 2 / 255, "accuracy": acc})
    return pd.DataFrame(rows, columns=["k", "eps", "steps", "step_size", "accuracy"])


def steps_curve(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps_ks: Sequence[int] = STEPS_CURVE_EPS,
    steps: Sequence[int] = STEPS_CURVE_STEPS,
    *,
    adaptive: bool = True,
    gammas: Sequence[float] = GAMMAS,
    restarts: int = 1,
    init_std: float = 0.005,
    seed: int = 0,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Fig. 2: robust accuracy vs #steps for PGD and the adaptive smoothed-label attack.

    Returns:
        Columns ``attack`` (``pgd`` / ``adaptive``)``, k, eps, steps, step_size, accuracy``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(6, 1, 2, 2), torch.randint(0, 3, (6,))
        >>> steps_curve(model, x, y, eps_ks=(8,), steps=(2, 4), gammas=(0.0, 0.5)).shape
        (4, 6)
    """
    rows = []
    for k in eps_ks:
        eps = k / 255
        for n in steps:
            step = steps_curve_step_size(eps, n)
            attacks: list[tuple[str, Attack]] = [
                (
                    "pgd",
                    PGDAttack(eps, n, step, restarts=restarts, init="normal", init_std=init_std),
                )
            ]
            if adaptive:
                attacks.append(
                    (
                        "adaptive",
                        AdaptiveSmoothedPGD(
                            eps, n, step, gammas=gammas, restarts=restarts, init_std=init_std
                        ),
                    )
                )
            for kind, attack in attacks:
                acc = _seeded_accuracy(model, attack, x, y, seed, batch_size)
                rows.append(
                    {
                        "attack": kind,
                        "k": k,
                        "eps": eps,
                        "steps": n,
                        "step_size": step,
                        "accuracy": acc,
                    }
                )
    return pd.DataFrame(rows, columns=["attack", "k", "eps", "steps", "step_size", "accuracy"])


__all__ = [
    "EPS_CURVE_KS",
    "STEPS_CURVE_EPS",
    "STEPS_CURVE_STEPS",
    "eps_curve",
    "steps_curve",
    "steps_curve_step_size",
]
