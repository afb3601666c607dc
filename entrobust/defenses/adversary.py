"""The adversary used inside adversarial training (the paper's §5.1 AT adversary)."""

from __future__ import annotations

from dataclasses import dataclass

from entrobust.attacks.threat import LinfBall, check_linf_eps


@dataclass(frozen=True)
class TrainingAdversary:
    """L∞ PGD settings for the inner maximisation.

    The paper states ε, step and steps (CIFAR/SVHN: 8/255, 2/255, 7; MNIST: 48/255, 6/255, 10)
    but not the start; we use Madry et al.'s uniform start for PAT, and TRADES' reference
    ``x + 0.001·N(0, 1)`` for TRADES.

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
