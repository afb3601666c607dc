"""Averaged-probability ensembles (as used by ADP, Pang et al. 2019)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.errors import InvalidValueError

__all__ = ["Ensemble"]


class Ensemble(nn.Module):
    """An ensemble whose output is the log of the members' averaged softmax probabilities.

    ``forward(x) = log(mean_k softmax(member_k(x)))``, computed stably as
    ``logsumexp_k(log_softmax(member_k(x))) - log K``. The result is a valid "logits" output:
    its softmax is exactly the averaged probability vector, so cross-entropy and accuracy work
    unchanged. It is not a raw logit vector, so margin-based attacks on logits (CW) are not
    meaningful for it.

    Args:
        members: The ``K >= 1`` member networks, each mapping ``x`` to logits of the same shape.

    Attributes:
        members: The member networks.

    Raises:
        InvalidValueError: If ``members`` is empty.

    Example:
        >>> import torch
        >>> ens = Ensemble([torch.nn.Identity(), torch.nn.Identity()])
        >>> out = ens(torch.tensor([[0.0, 0.0]]))
        >>> out.softmax(-1).tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, members: Iterable[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        if len(self.members) == 0:
            raise InvalidValueError("an Ensemble needs at least one member")

    def member_logits(self, x: Tensor) -> list[Tensor]:
        """Return each member's logits for ``x``, in order."""
        return [member(x) for member in self.members]

    def forward(self, x: Tensor) -> Tensor:
        """Return ``log(mean_k softmax(member_k(x)))`` of shape ``(N, num_classes)``."""
        log_probs = torch.stack([F.log_softmax(z, dim=-1) for z in self.member_logits(x)])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))
