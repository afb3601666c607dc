"""The adversary used inside adversarial training (the paper's §5.1 AT adversary)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from entrobust.attacks.threat import LinfBall, check_linf_eps
from entrobust.errors import InvalidValueError


@dataclass(frozen=True)
class TrainingAdversary:
    """L∞ PGD settings for the inner maximisation.

    The paper states ε, step and steps (CIFAR/SVHN: 8/255, 2/255, 7; MNIST: 48/255, 6/255, 10)
    but not the start; we use Madry et al.'s uniform start for PAT, and the references'
    ``x + 0.001·N(0, 1)`` for TRADES and MART. Fast AT takes one step of 1.25·ε from a uniform
    start (its reference).

    Example:
        >>> TrainingAdversary(eps=8/255, step_size=2/255, steps=7).ball.eps == 8/255
        True
    """

    eps: float
    step_size: float
    steps: int

    def __post_init__(self) -> None:
        check_linf_eps(self.eps, "training ε")
        check_linf_eps(self.step_size, "training step size")

    @property
    def ball(self) -> LinfBall:
        """The threat model."""
        return LinfBall(self.eps)


#: What an inner maximisation may ascend: cross-entropy, or the defense's own objective L.
INNER_CHOICES = ("ce", "objective")


def select_inner_loss(
    inner: str, objective: Callable[[Tensor, Tensor], Tensor]
) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss an inner maximisation ascends: ``F.cross_entropy`` or ``objective`` itself.

    Args:
        inner: ``"ce"`` (Madry et al.'s reading) or ``"objective"`` (Eqn. 5: L inside the max).
        objective: the defense's per-batch objective ``(logits, y) -> loss``.

    Raises:
        InvalidValueError: ``inner`` is neither.

    Example:
        >>> import torch.nn.functional as F
        >>> select_inner_loss("ce", None) is F.cross_entropy
        True
        >>> select_inner_loss("kl", None)
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: unknown inner loss 'kl'; valid: ce, objective
    """
    if inner not in INNER_CHOICES:
        raise InvalidValueError(f"unknown inner loss {inner!r}; valid: {', '.join(INNER_CHOICES)}")
    return F.cross_entropy if inner == "ce" else objective
