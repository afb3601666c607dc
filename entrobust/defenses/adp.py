"""ADP ensemble training (Pang et al., 2019): all members trained jointly on the ADP loss."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor

from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer
from entrobust.losses import ADPLoss
from entrobust.models import Ensemble


def adp_step(ensemble: Ensemble, x: Tensor, y: Tensor, loss: ADPLoss) -> Tensor:
    """Return the ADP loss of the ensemble's member logits; the caller owns the step.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> ens = Ensemble([nn.Linear(4, 3) for _ in range(3)])
        >>> adp_step(ens, torch.rand(2, 4), torch.tensor([0, 1]), ADPLoss()).backward()
    """
    return loss(ensemble.member_logits(x), y)


def _bind(objective: Callable[[Tensor, Tensor], Tensor], params: DefenseParams) -> Step:
    return partial(adp_step, loss=ADPLoss(alpha=params.adp_alpha, beta=params.adp_beta))


ADP = register_trainer(
    Trainer(
        "adp",
        _bind,
        passes_per_example=lambda at_steps, members: members,  # one pass per member
        description="ADP ensemble training on the ADP loss (Pang et al., 2019)",
        ensemble=True,
        reads=("adp_alpha", "adp_beta"),
        skip_attacks=("cw",),
        skip_reason="ADP outputs averaged probabilities: the CW logit margin does not apply",
    )
)
