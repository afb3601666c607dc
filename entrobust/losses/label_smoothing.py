"""Label smoothing (LS), the paper's Eqn. 6: ``CE(p, y − γ(y − u_C))``.

That target is exactly PyTorch's ``label_smoothing`` definition, so we delegate to
``F.cross_entropy``. Identity (Eqn. 7): ``L = (1−γ)·CE + γ·KL(u_C‖p) + γ·log C``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.errors import InvalidValueError
from entrobust.losses._reduce import check_reduction


def _check_gamma(gamma: float) -> float:
    if not 0.0 <= gamma <= 1.0:
        raise InvalidValueError(f"label-smoothing γ must lie in [0, 1], got {gamma}")
    return float(gamma)


def label_smoothing_loss(
    logits: Tensor, target: Tensor, gamma: float = 0.74, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy against ``y − γ(y − u_C)``.

    Args:
        logits: ``(N, C)`` scores.
        target: ``(N,)`` class indices or ``(N, C)`` probabilities.
        gamma: smoothing γ in [0, 1] (paper: 0.74 CIFAR-10/SVHN, 0.84 CIFAR-100).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Example:
        >>> import torch
        >>> logits, y = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])
        >>> round(label_smoothing_loss(logits, y, gamma=0.0).item(), 4)  # == cross-entropy
        0.2395
    """
    return F.cross_entropy(
        logits, target, label_smoothing=_check_gamma(gamma), reduction=check_reduction(reduction)
    )


class LabelSmoothingLoss(nn.Module):
    """Module form of :func:`label_smoothing_loss`.

    Example:
        >>> import torch
        >>> LabelSmoothingLoss(gamma=0.74)(torch.zeros(2, 10), torch.tensor([1, 2])).item() > 0
        True
    """

    def __init__(self, gamma: float = 0.74, reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.reduction = check_reduction(reduction)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return label_smoothing_loss(logits, target, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, reduction={self.reduction!r}"
