"""Shared, cached attack runs for the audit: each attack runs once and feeds several checks."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from entrobust.attacks import PGDAttack
from entrobust.attacks.base import Attack
from entrobust.evaluation import predict, run_attack
from entrobust.tensors import as_float_images


@dataclass(frozen=True)
class AuditSettings:
    """How hard the audit attacks.

    Attributes:
        eps: the L∞ radius under audit (a fraction, e.g. 8/255).
        restarts: random starts of every PGD (the paper: 5; early exit skips broken points).
        init_std: std of the Gaussian start ``N(0, init_std²)`` (the paper's 0.005).
        samples: random-search tries per PGD survivor.
        seed: seed of every random start and of random search.
        batch_size: examples per attack batch.
    """

    eps: float
    restarts: int = 5
    init_std: float = 0.005
    samples: int = 1000
    seed: int = 0
    batch_size: int = 256


class Probe:
    """The audited model, its test points, and a cache of adversarial examples by name.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> probe = Probe(model, torch.rand(8, 1, 2, 2), torch.zeros(8, dtype=torch.long),
        ...               AuditSettings(eps=8 / 255, restarts=1))
        >>> 0.0 <= probe.accuracy(probe.pgd(3)) <= probe.clean_accuracy
        True
    """

    def __init__(self, model: nn.Module, x: Tensor, y: Tensor, settings: AuditSettings) -> None:
        self.model, self.settings = model, settings
        self.x, self.y = as_float_images(x), y.cpu()
        self.clean_ok = self.correct(self.x)
        self.clean_accuracy = self.clean_ok.float().mean().item()
        self._cache: dict[str, Tensor] = {}

    def correct(self, x_adv: Tensor, rows: Tensor | None = None) -> Tensor:
        """Boolean mask: the model classifies ``x_adv`` as ``y`` (or as ``y[rows]``)."""
        y = self.y if rows is None else self.y[rows]
        return predict(self.model, x_adv, self.settings.batch_size) == y

    def robust(self, x_adv: Tensor) -> Tensor:
        """Boolean mask: correct both clean and on ``x_adv`` (AutoAttack's convention)."""
        return self.clean_ok & self.correct(x_adv)

    def accuracy(self, x_adv: Tensor) -> float:
        """Robust accuracy (fraction) of ``x_adv``."""
        return self.robust(x_adv).float().mean().item() if len(self.y) else float("nan")

    def run(
        self, key: str, attack: Attack, x: Tensor | None = None, y: Tensor | None = None
    ) -> Tensor:
        """``attack`` on ``(x, y)`` (default: all points), seeded, cached under ``key``."""
        if key not in self._cache:
            self._cache[key] = run_attack(
                attack,
                self.model,
                self.x if x is None else x,
                self.y if y is None else y,
                self.settings.batch_size,
                seed=self.settings.seed,
            )
        return self._cache[key]

    def pgd_attack(
        self, steps: int, eps: float | None = None, step_size: float | None = None
    ) -> PGDAttack:
        """PGD on CE with the audit's start rule; default radius the audited ε, step ε/10."""
        s = self.settings
        eps = s.eps if eps is None else eps
        return PGDAttack(
            eps,
            steps,
            step_size,
            restarts=s.restarts,
            init="normal",
            init_std=s.init_std,
            name=f"pgd{steps}-{eps * 255:.4g}",
        )

    def pgd(self, steps: int) -> Tensor:
        """Cached white-box PGD(steps) at the audited ε with step ε/10 (the paper's PGDp-k)."""
        return self.run(f"pgd{steps}", self.pgd_attack(steps))


__all__ = ["AuditSettings", "Probe"]
