"""The TRADES robustness term ``KL(softmax(f(x)) ‖ softmax(f(x_adv)))`` (Zhang et al., 2019).

The reference computes ``nn.KLDivLoss(size_average=False)(log_softmax(f(x_adv)),
softmax(f(x)))`` and divides by the batch size; here ``reduction="mean"`` is that per-example
mean (not ``F.kl_div``'s element mean), ``"sum"`` the reference's sum, ``"none"`` per example.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.losses._reduce import check_reduction, reduce


def trades_kl_loss(logits_adv: Tensor, logits_nat: Tensor, reduction: str = "mean") -> Tensor:
    """``KL(softmax(logits_nat) ‖ softmax(logits_adv))`` per example, then reduced.

    Gradients flow into both arguments (the reference does not detach the clean softmax).

    Example:
        >>> import torch
        >>> z = torch.randn(4, 10)
        >>> trades_kl_loss(z, z).abs().item() < 1e-6
        True
    """
    check_reduction(reduction)
    kl = F.kl_div(
        F.log_softmax(logits_adv, dim=-1), F.softmax(logits_nat, dim=-1), reduction="none"
    ).sum(dim=-1)
    return reduce(kl, reduction)


class TradesKLLoss(nn.Module):
    """Module form of :func:`trades_kl_loss`, called ``(logits_adv, logits_nat)``.

    Example:
        >>> import torch
        >>> TradesKLLoss()(torch.zeros(2, 3), torch.zeros(2, 3)).item()
        0.0
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, logits_adv: Tensor, logits_nat: Tensor) -> Tensor:
        return trades_kl_loss(logits_adv, logits_nat, self.reduction)
