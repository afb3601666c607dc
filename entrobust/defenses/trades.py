"""TRADES (Zhang et al., 2019; the paper's Eqn. 3), faithful to the reference ``trades.py``.

Inner maximisation in eval mode: start at ``x + 0.001·N(0, 1)``, ascend
``KL(softmax(f(x)) ‖ softmax(f(x_adv)))`` (summed) with L∞ sign steps, project onto the ball
and [0, 1]. Outer loss in the caller's mode: ``L(f(x), y) + β·KL(...)/batch`` with the clean
softmax not detached, where L is CE (TRADES) or EntM/LS (TRADES-EntM/-LS). Two differences
from the reference that change no value: the clean softmax of the inner loop is computed once
(it is constant there), and the outer loss reuses the clean logits instead of a third forward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.attacks.pgd import pgd
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.losses import trades_kl_loss
from entrobust.modes import eval_mode


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
            init="normal",
            init_std=0.001,
        )
    logits = model(x)
    return objective(logits, y) + beta * trades_kl_loss(model(x_adv), logits, reduction="mean")
