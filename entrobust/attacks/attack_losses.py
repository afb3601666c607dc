"""Attack objectives: cross-entropy, the CW margin (FAT's ``cwloss``), smoothed-label CE.

Each takes ``(logits, y)`` and returns the per-example loss to *ascend*. (The training losses,
EntM, label smoothing, TRADES' KL, ..., are in the package :mod:`entrobust.losses`.)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from entrobust.losses import label_smoothing_loss


def ce_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Per-example cross-entropy (the PGD / FGSM objective)."""
    return F.cross_entropy(logits, y, reduction="none")


def cw_margin_loss(logits: Tensor, y: Tensor, kappa: float = 50.0) -> Tensor:
    """``−clamp(z_y − max_{i≠y} z_i + κ, min=0)``, the true class masked by −10000.

    Exactly Friendly Adversarial Training's ``cwloss`` (the paper's CW, "as Zhang et al., 2020"),
    per example. torchattacks' CW is an L2 attack whose non-target max picks 0 for negative
    logits; masking by −10000 avoids that.

    Example:
        >>> import torch
        >>> cw_margin_loss(torch.tensor([[-1.0, -3.0, -2.0]]), torch.tensor([0]), kappa=0.0)
        tensor([-1.])
    """
    onehot = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    real = (onehot * logits).sum(dim=1)
    other = ((1.0 - onehot) * logits - onehot * 10000.0).amax(dim=1)
    return -(real - other + kappa).clamp(min=0.0)


def smoothed_ce_loss(gamma: float):
    """CE against the smoothed label ``y − γ(y − u_C)`` (the paper's adaptive attack, Fig. 2).

    Example:
        >>> import torch
        >>> loss = smoothed_ce_loss(0.0)
        >>> bool(torch.allclose(loss(torch.zeros(1, 4), torch.tensor([1])), torch.tensor([1.3863]), atol=1e-4))
        True
    """

    def loss(logits: Tensor, y: Tensor) -> Tensor:
        return label_smoothing_loss(logits, y, gamma, reduction="none")

    return loss
