"""TRADES (Zhang et al., 2019; the paper's Eqn. 3), faithful to the reference ``trades.py``.

Inner maximisation in eval mode: start at ``x + 0.001·N(0, 1)`` (not clipped: the first
gradient is taken there, as in the reference), ascend
``KL(softmax(f(x)) ‖ softmax(f(x_adv)))`` (summed) with L∞ sign steps, project onto the ball
and [0, 1]. Outer loss in the caller's mode: ``L(f(x), y) + β·KL(...)/batch`` with the clean
softmax not detached, where L is CE (TRADES) or EntM/LS (TRADES-EntM/-LS).

The outer loss makes the reference's three forward passes, in its order: ``f(x)`` for L,
``f(x_adv)`` and ``f(x)`` again for the KL. In train mode each pass updates BatchNorm's running
statistics, so the three passes are part of the method (the running mean/variance after a step
equal the reference's; the test checks them to 1e-6). One difference that changes no value: in
the eval-mode inner loop the clean softmax is computed once, not at every step (it is constant
there and eval-mode passes touch no statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.attacks.projected_ascent import pgd
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer
from entrobust.losses import trades_kl_loss
from entrobust.modes import eval_mode

#: TRADES' β in the paper (Eqn. 3).
TRADES_BETA = 3.0


def _kl_to_clean(logits_adv: Tensor, p_clean: Tensor) -> Tensor:
    return F.kl_div(F.log_softmax(logits_adv, dim=1), p_clean, reduction="sum")


def trades_step(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Callable[[Tensor, Tensor], Tensor],
    adversary: TrainingAdversary,
    beta: float = 3.0,
) -> Tensor:
    """One TRADES loss; the caller owns the optimizer step.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=3)
        >>> loss = trades_step(model, torch.rand(2, 4), torch.tensor([0, 1]),
        ...                    nn.CrossEntropyLoss(), adv)
        >>> loss.backward()
    """
    with eval_mode(model):
        with torch.no_grad():
            p_clean = F.softmax(model(x), dim=1)
        x_adv = pgd(
            model,
            x,
            p_clean,
            loss_fn=_kl_to_clean,
            ball=adversary.ball,
            steps=adversary.steps,
            step_size=adversary.step_size,
            x_init=x + 0.001 * torch.randn_like(x),
            project_init=False,
        )
    natural = objective(model(x), y)
    logits_adv = model(x_adv)
    return natural + beta * trades_kl_loss(logits_adv, model(x), reduction="mean")


def _bind(objective: Callable[[Tensor, Tensor], Tensor], params: DefenseParams) -> Step:
    beta = TRADES_BETA if params.beta is None else params.beta
    return partial(trades_step, objective=objective, adversary=params.adversary, beta=beta)


TRADES = register_trainer(
    Trainer(
        "trades",
        _bind,
        # attack steps + clean + adversarial + the KL's second clean pass
        passes_per_example=lambda at_steps, members: at_steps + 3,
        description="TRADES, L(x) + β·KL(f(x) ‖ f(x_adv)) (Eqn. 3)",
        adversarial=True,
        proxy="pat",
        reads=("adversary", "beta"),
        beta=TRADES_BETA,
    )
)
