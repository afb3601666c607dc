"""PGD / FGSM / CW-L∞ / L2-PGD in the paper's notation, with random restarts and early exit.

The paper (§5.1): "PGDp-k: p steps, ε = k/255, step size k/2550 (= ε/10)"; "CWp-k: the same with
the CW objective"; "random initialization X' = X + N(0, 0.005) with 5 restarts". The paper does
not say whether 0.005 is the variance or the standard deviation; we read it as the standard
deviation (≈ 1.3/255, like TRADES' ``0.001·randn``) and expose ``init_std`` (use
``init_std=0.005 ** 0.5`` for the variance reading). The start is projected onto the ball and
[0, 1]. Per example, the worst case over restarts is kept (:mod:`entrobust.attacks.restarts`).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from entrobust.attacks.attack_losses import ce_loss, cw_margin_loss
from entrobust.attacks.base import Attack
from entrobust.attacks.projected_ascent import pgd
from entrobust.attacks.restarts import worst_case
from entrobust.attacks.threat import INITS, L2Ball, LinfBall, check_norm
from entrobust.attacks.validate import MAX_STEPS, check_strength
from entrobust.errors import InvalidValueError

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"ce": ce_loss, "cw": cw_margin_loss}


class PGDAttack(Attack):
    """Projected gradient ascent on CE, the CW margin or any ``(logits, y)`` loss.

    Args:
        eps: radius (L∞: fraction of the [0, 1] range, e.g. 8/255; L2: Euclidean).
        steps: ascent steps (``steps=1, step_size=eps, init="none"`` is FGSM).
        step_size: default ``eps / 10`` (the paper's k/2550).
        norm: ``"linf"`` or ``"l2"``.
        loss: ``"ce"``, ``"cw"`` (κ = 50) or a callable ``(logits, y) -> per-example loss``.
        restarts: number of random starts (the paper: 5).
        init: ``"normal"`` (paper), ``"uniform"`` (Madry) or ``"none"``.
        init_std: standard deviation of the normal start.
        early_exit: restart only on points still classified correctly.
        name: display name (default derived from the settings).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> atk = PGDAttack(8/255, steps=10, restarts=2, init="normal")
        >>> x_adv = atk(model, torch.rand(5, 1, 2, 2), torch.randint(0, 3, (5,)))
        >>> x_adv.shape
        torch.Size([5, 1, 2, 2])
    """

    def __init__(
        self,
        eps: float,
        steps: int,
        step_size: float | None = None,
        *,
        norm: str = "linf",
        loss: str | Callable[[Tensor, Tensor], Tensor] = "ce",
        restarts: int = 1,
        init: str = "none",
        init_std: float = 0.005,
        early_exit: bool = True,
        name: str | None = None,
    ) -> None:
        check_norm(norm)
        if init not in INITS:
            raise InvalidValueError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
        label = loss if isinstance(loss, str) else "custom"
        check_strength(name or f"{norm}-pgd{steps}-{label}-eps{eps:.4g}", eps, steps)
        if not 1 <= restarts <= MAX_STEPS:
            raise InvalidValueError(f"restarts must lie in 1..{MAX_STEPS}, got {restarts}")
        if isinstance(loss, str) and loss not in LOSSES:
            raise InvalidValueError(f"unknown attack loss {loss!r}; valid: {', '.join(LOSSES)}")
        self.ball = LinfBall(eps) if norm == "linf" else L2Ball(eps)
        self.eps, self.norm, self.steps = float(eps), norm, int(steps)
        self.step_size = self.eps / 10 if step_size is None else float(step_size)
        self.loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
        self.restarts, self.init, self.init_std = int(restarts), init, float(init_std)
        self.early_exit = early_exit
        self.name = name or f"{norm}-pgd{steps}-{label}-eps{self.eps:.4g}"

    @property
    def randomized(self) -> bool:  # type: ignore[override]
        """False for a deterministic start (FGSM): repeats would give the same result."""
        return self.init != "none"

    def single_run(self, model: nn.Module, x: Tensor, y: Tensor, x_init: Tensor | None) -> Tensor:
        """One PGD run from ``x_init`` (or from ``x`` itself when None)."""
        return pgd(
            model,
            x,
            y,
            loss_fn=self.loss_fn,
            ball=self.ball,
            steps=self.steps,
            step_size=self.step_size,
            init="none",
            x_init=x_init,
        )

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        if self.init == "none":  # deterministic: restarts would repeat the same run
            return self.single_run(model, x, y, None)

        def run(rows: Tensor) -> Tensor:
            start = self.ball.init(x, self.init, self.init_std)  # whole batch: RNG as naive
            return self.single_run(model, x[rows], y[rows], start[rows])

        return worst_case(model, x, y, [run] * self.restarts, self.early_exit)


def fgsm(eps: float, name: str | None = None) -> PGDAttack:
    """FGSM (Goodfellow et al.): one signed-gradient step of size ε from the clean point.

    The paper's "random initialization for all attacks" is not applied to FGSM here: from a
    random start one ε-step is no longer FGSM. Use ``PGDAttack(eps, 1, eps, init="normal")``
    for that reading.

    Example:
        >>> fgsm(8/255).steps, round(fgsm(8/255).step_size * 255)
        (1, 8)
    """
    return PGDAttack(eps, steps=1, step_size=eps, init="none", name=name or f"fgsm-eps{eps:.4g}")


class NoAttack(Attack):
    """The identity: clean accuracy through the same code path as every attack."""

    name = "clean"
    eps = 0.0
    randomized = False

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return x.clone()


__all__ = ["LOSSES", "NoAttack", "PGDAttack", "fgsm"]
