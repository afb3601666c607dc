"""ADP ensemble training (Pang et al., 2019): all members trained jointly on the ADP loss."""

from __future__ import annotations

from torch import Tensor

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
