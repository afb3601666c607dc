"""Adaptive Diversity Promoting (ADP) ensemble loss (Pang et al., ICML 2019).

``Σ_k CE(p_k, y) − α·H(mean_k p_k) − β·log det(G̃ G̃ᵀ + δ·I)``, where row k of ``G̃`` is member
k's softmax vector with the true-label entry removed, L2-normalised (the reference's
``log_det`` in ``utils.py``; DVERGE's ``train_adp.py`` ports it to PyTorch). α = 2, β = 0.5,
δ = 1e-6 are the paper's "recommended parameters (2, 0.5)".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.errors import InvalidValueError
from entrobust.losses._reduce import check_reduction, reduce


def ensemble_entropy(member_logits: Sequence[Tensor]) -> Tensor:
    """Entropy of the members' averaged softmax, per example (computed in log space)."""
    log_p = torch.stack([F.log_softmax(z, dim=-1) for z in member_logits])
    log_mean = torch.logsumexp(log_p, dim=0) - math.log(len(member_logits))
    return -(log_mean.exp() * log_mean).sum(dim=-1)


def ensemble_log_det(
    member_logits: Sequence[Tensor], target: Tensor, det_offset: float = 1e-6
) -> Tensor:
    """``log det(G̃ G̃ᵀ + δ·I)`` per example: the ensemble diversity of non-maximal predictions."""
    probs = torch.stack([F.softmax(z, dim=-1) for z in member_logits], dim=1)  # (N, K, C)
    n, k, c = probs.shape
    keep = torch.ones(n, c, dtype=torch.bool, device=probs.device)
    keep[torch.arange(n, device=probs.device), target] = False
    non_y = probs[keep.unsqueeze(1).expand(n, k, c)].view(n, k, c - 1)
    non_y = non_y / non_y.norm(dim=-1, keepdim=True).clamp_min(1e-20)
    gram = non_y @ non_y.transpose(1, 2) + det_offset * torch.eye(k, device=probs.device)
    return torch.linalg.slogdet(gram).logabsdet


def adp_loss(
    member_logits: Sequence[Tensor],
    target: Tensor,
    alpha: float = 2.0,
    beta: float = 0.5,
    det_offset: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """ADP loss over the logits of the K ensemble members.

    Args:
        member_logits: K tensors ``(N, C)``, one per member (K ≥ 2).
        target: ``(N,)`` class indices (hard labels: the true-label entry is removed).
        alpha: ensemble-entropy weight α.
        beta: log-ensemble-diversity weight β.
        det_offset: δ added to the Gram matrix's diagonal.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Example:
        >>> import torch
        >>> torch.manual_seed(0) and None
        >>> logits = [torch.randn(4, 10, requires_grad=True) for _ in range(3)]
        >>> loss = adp_loss(logits, torch.tensor([0, 1, 2, 3]))
        >>> loss.backward()
    """
    if len(member_logits) < 2:
        raise InvalidValueError("ADP needs an ensemble of at least 2 members")
    if target.is_floating_point():
        raise InvalidValueError("ADP needs hard class-index targets")
    ce = sum(F.cross_entropy(z, target, reduction="none") for z in member_logits)
    loss = (
        ce
        - alpha * ensemble_entropy(member_logits)
        - beta * ensemble_log_det(member_logits, target, det_offset)
    )
    return reduce(loss, check_reduction(reduction))


class ADPLoss(nn.Module):
    """Module form of :func:`adp_loss`, called ``(member_logits, target)``.

    Example:
        >>> import torch
        >>> ADPLoss()([torch.zeros(2, 10)] * 3, torch.tensor([0, 1])).shape
        torch.Size([])
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 0.5,
        det_offset: float = 1e-6,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.alpha, self.beta, self.det_offset = float(alpha), float(beta), float(det_offset)
        self.reduction = check_reduction(reduction)

    def forward(self, member_logits: Sequence[Tensor], target: Tensor) -> Tensor:
        return adp_loss(
            member_logits, target, self.alpha, self.beta, self.det_offset, self.reduction
        )
