"""Entropy maximization (EntM), the paper's Eqn. 4: ``CE(p, y) − λ·H(p)``.

Both terms come from one ``log_softmax``, so the loss and its gradient stay finite for
saturated logits. Identity (Eqn. 8): ``L = CE + λ·KL(p‖u_C) − λ·log C``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.losses._reduce import check_reduction, reduce


def entropy(logits: Tensor) -> Tensor:
    """Shannon entropy ``H(softmax(logits))`` per example, in nats.

    Example:
        >>> import torch
        >>> round(entropy(torch.zeros(1, 4)).item(), 4)  # uniform over 4 classes: log 4
        1.3863
    """
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


def entm_loss(logits: Tensor, target: Tensor, lam: float = 2.0, reduction: str = "mean") -> Tensor:
    """EntM loss ``CE(softmax(logits), target) − lam · H(softmax(logits))``.

    Args:
        logits: ``(N, C)`` unnormalised scores.
        target: ``(N,)`` class indices, or ``(N, C)`` class probabilities (soft targets).
        lam: entropy weight λ (the paper uses 2; ``lam=0`` is plain cross-entropy).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"`` over examples.

    Example:
        >>> import torch
        >>> logits, y = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])
        >>> round(entm_loss(logits, y, lam=0.0).item(), 4)  # == cross-entropy
        0.2395
        >>> round(entm_loss(logits, y, lam=2.0).item(), 4)
        -1.0916
    """
    log_p = F.log_softmax(logits, dim=-1)
    if target.is_floating_point():
        ce = -(target * log_p).sum(dim=-1)
    else:
        ce = F.nll_loss(log_p, target, reduction="none")
    ent = -(log_p.exp() * log_p).sum(dim=-1)
    return reduce(ce - lam * ent, reduction)


class EntMLoss(nn.Module):
    """Module form of :func:`entm_loss`, a drop-in for ``nn.CrossEntropyLoss``.

    Example:
        >>> import torch
        >>> criterion = EntMLoss(lam=2.0)
        >>> loss = criterion(torch.randn(8, 10, requires_grad=True), torch.randint(0, 10, (8,)))
        >>> loss.backward()
    """

    def __init__(self, lam: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.lam = float(lam)
        self.reduction = check_reduction(reduction)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return entm_loss(logits, target, self.lam, self.reduction)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, reduction={self.reduction!r}"
