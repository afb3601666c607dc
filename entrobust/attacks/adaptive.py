"""The paper's adaptive attack (Fig. 2): PGD on CE against smoothed labels, searched over γ.

``L_atk = CE(f(x'), y − γ(y − u_C))`` for γ ∈ {0, 0.1, …, 1}. The paper takes "the best γ for each
attack" without saying whether per step count or per example; we take, **per example, the
worst case over γ** (a point counts as broken if any γ breaks it) — at least as strong as any
single γ, and the same per-example early exit as restarts. Each γ runs with the same restarts
and start rule as PGD.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from entrobust.attacks.attack_losses import smoothed_ce_loss
from entrobust.attacks.base import Attack
from entrobust.attacks.pgd_attack import PGDAttack
from entrobust.attacks.restarts import worst_case
from entrobust.attacks.validate import check_strength
from entrobust.errors import InvalidValueError

GAMMAS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


class AdaptiveSmoothedPGD(Attack):
    """Worst case over γ of PGD on smoothed-label cross-entropy.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> atk = AdaptiveSmoothedPGD(8/255, steps=3, gammas=(0.0, 0.5), restarts=1)
        >>> atk(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.rand(2, 4), torch.tensor([0, 1])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        eps: float,
        steps: int,
        step_size: float | None = None,
        *,
        gammas: Sequence[float] = GAMMAS,
        restarts: int = 1,
        init: str = "normal",
        init_std: float = 0.005,
        early_exit: bool = True,
        name: str | None = None,
    ) -> None:
        check_strength(name or f"adaptive{steps}-eps{eps:.4g}", eps, steps)
        if not gammas:
            raise InvalidValueError("the adaptive attack needs at least one γ")
        self.attacks = [
            PGDAttack(
                eps,
                steps,
                step_size,
                loss=smoothed_ce_loss(g),
                restarts=restarts,
                init=init,
                init_std=init_std,
                early_exit=early_exit,
            )
            for g in gammas
        ]
        self.gammas, self.eps, self.norm = tuple(gammas), float(eps), "linf"
        self.early_exit = early_exit
        self.name = name or f"adaptive{steps}-eps{eps:.4g}"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        runs = [(lambda rows, a=a: a.perturb(model, x[rows], y[rows])) for a in self.attacks]
        return worst_case(model, x, y, runs, self.early_exit)
