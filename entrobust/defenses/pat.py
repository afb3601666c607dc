"""PGD adversarial training, PAT (Eqn. 2; with EntM or LS, Eqn. 5).

``α·L(f(x), y) + (1 − α)·max L(f(x_adv), y)`` with x_adv from L∞ PGD. By default the inner
maximisation ascends L itself (``inner="objective"``), as Eqn. 5 writes it: PAT-EntM's adversary
maximises ``CE − λ·H``, PAT-LS's the smoothed-label CE. ``inner="ce"`` ascends cross-entropy
whatever L is (Madry et al.'s reading, kept as an option). For PAT itself (L = CE) the two are
the same computation. The attack runs with the model in eval mode (BatchNorm uses its
running statistics, as in TRADES' reference) and the model's modes are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from entrobust.attacks.projected_ascent import pgd
from entrobust.defenses.adversary import TrainingAdversary, select_inner_loss
from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer
from entrobust.modes import eval_mode


def pat_step(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Callable[[Tensor, Tensor], Tensor],
    adversary: TrainingAdversary,
    alpha: float = 0.5,
    inner: str = "objective",
) -> Tensor:
    """One PAT loss: ``α·L(x) + (1−α)·L(x_adv)``; the caller owns the optimizer step.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=3)
        >>> loss = pat_step(model, torch.rand(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(), adv)
        >>> loss.backward()
    """
    inner_loss = select_inner_loss(inner, objective)
    with eval_mode(model):
        x_adv = pgd(
            model,
            x,
            y,
            loss_fn=inner_loss,
            ball=adversary.ball,
            steps=adversary.steps,
            step_size=adversary.step_size,
            init="uniform",
        )
    return alpha * objective(model(x), y) + (1.0 - alpha) * objective(model(x_adv), y)


def _bind(objective: Callable[[Tensor, Tensor], Tensor], params: DefenseParams) -> Step:
    return partial(
        pat_step,
        objective=objective,
        adversary=params.adversary,
        alpha=params.alpha,
        inner=params.inner,
    )


PAT = register_trainer(
    Trainer(
        "pat",
        _bind,
        passes_per_example=lambda at_steps, members: at_steps + 2,  # attack + clean + adversarial
        description="PGD adversarial training, α·L(x) + (1 − α)·L(x_adv) (Eqn. 2, 5)",
        adversarial=True,
        proxy="pat",
        reads=("adversary", "alpha", "inner"),
    )
)
