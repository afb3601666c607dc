"""Threat models, separated from the optimisation loop (after MadryLab ``attack_steps.py``).

A ball knows how to start inside itself, take an ascent step and project back onto
``{x' : ‖x' − x‖ ≤ ε} ∩ [0, 1]^d``. PGD (``entrobust.attacks.projected_ascent``) then needs only a loss.

The one validation of a threat model's norm and radius lives here too (:func:`check_norm`,
:func:`check_linf_eps`, :func:`check_radius`), shared by every attack class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from entrobust.errors import InvalidValueError

INITS = ("none", "uniform", "normal")
#: The threat models' norms.
NORMS = ("linf", "l2")


def check_norm(norm: str) -> str:
    """``norm`` if it is one of :data:`NORMS`, else :class:`InvalidValueError`.

    Example:
        >>> check_norm("l2")
        'l2'
        >>> check_norm("l1")
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: unknown norm 'l1'; valid: linf, l2
    """
    if norm not in NORMS:
        raise InvalidValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    return norm


def check_radius(eps: float, norm: str) -> float:
    """A valid radius for ``norm`` as a float: L∞ in [0, 1] (:func:`check_linf_eps`), L2 finite
    and ≥ 0; an unknown norm or a bad radius raise :class:`InvalidValueError`.

    Example:
        >>> check_radius(0.5, "l2"), round(check_radius(8 / 255, "linf") * 255)
        (0.5, 8)
        >>> check_radius(float("inf"), "l2")
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: L2 radius must be finite and ≥ 0, got inf
    """
    if check_norm(norm) == "linf":
        return check_linf_eps(eps)
    if not 0.0 <= eps < math.inf:
        raise InvalidValueError(f"L2 radius must be finite and ≥ 0, got {eps:g}")
    return float(eps)


def check_linf_eps(eps: float, what: str = "ε") -> float:
    """Reject an L∞ radius outside [0, 1] (images live in [0, 1]: 8/255, not 8)."""
    if not 0.0 <= eps <= 1.0:
        raise InvalidValueError(
            f"{what} = {eps:g} is outside [0, 1]; images are in [0, 1], so give it as a "
            f"fraction of the pixel range, e.g. {eps:g}/255 = {eps / 255:.5f}"
        )
    return float(eps)


def _flat_norm(t: Tensor) -> Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


@dataclass(frozen=True)
class LinfBall:
    """The L∞ ball of radius ``eps`` intersected with the image box [0, 1].

    Example:
        >>> import torch
        >>> ball = LinfBall(eps=0.1)
        >>> x = torch.full((1, 3), 0.5)
        >>> ball.project(x + 1.0, x)
        tensor([[0.6000, 0.6000, 0.6000]])
    """

    eps: float

    def __post_init__(self) -> None:
        check_linf_eps(self.eps)

    def init(self, x: Tensor, kind: str = "uniform", std: float = 0.0) -> Tensor:
        """A start point: ``x`` itself, uniform in the ball, or ``x + N(0, std²)``; projected."""
        if kind == "none":
            return x.clone()
        if kind == "uniform":
            return self.project(x + torch.empty_like(x).uniform_(-self.eps, self.eps), x)
        if kind == "normal":
            return self.project(x + std * torch.randn_like(x), x)
        raise InvalidValueError(f"unknown init {kind!r}; valid: {', '.join(INITS)}")

    def step(self, x_adv: Tensor, grad: Tensor, step_size: float) -> Tensor:
        """Steepest ascent under L∞: ``x_adv + step_size · sign(grad)``."""
        return x_adv + step_size * grad.sign()

    def project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """Clip into the ball around ``x`` and into [0, 1]."""
        return torch.min(torch.max(x_adv, x - self.eps), x + self.eps).clamp_(0.0, 1.0)


@dataclass(frozen=True)
class L2Ball:
    """The L2 ball of radius ``eps`` (per example) intersected with [0, 1].

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 4) + 0.5
        >>> round(float((L2Ball(0.2).project(x + 1.0, x) - x).norm()), 4)
        0.2
    """

    eps: float

    def __post_init__(self) -> None:
        if self.eps < 0:
            raise InvalidValueError(f"L2 radius must be ≥ 0, got {self.eps:g}")

    def init(self, x: Tensor, kind: str = "uniform", std: float = 0.0) -> Tensor:
        """``x``, a uniform point of the ball, or ``x + N(0, std²)``; projected."""
        if kind == "none":
            return x.clone()
        if kind == "uniform":
            direction = torch.randn_like(x)
            direction = direction / _flat_norm(direction).clamp_min(1e-12)
            d = x[0].numel()
            radius = self.eps * torch.rand(len(x), device=x.device, dtype=x.dtype) ** (1.0 / d)
            return self.project(x + direction * radius.view(-1, *([1] * (x.dim() - 1))), x)
        if kind == "normal":
            return self.project(x + std * torch.randn_like(x), x)
        raise InvalidValueError(f"unknown init {kind!r}; valid: {', '.join(INITS)}")

    def step(self, x_adv: Tensor, grad: Tensor, step_size: float) -> Tensor:
        """Steepest ascent under L2: a step of length ``step_size`` along the gradient."""
        return x_adv + step_size * grad / _flat_norm(grad).clamp_min(1e-12)

    def project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """Scale ``x_adv − x`` back into the ball, then clip to [0, 1] (which can only shrink it)."""
        delta = x_adv - x
        factor = (self.eps / _flat_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
        return (x + delta * factor).clamp_(0.0, 1.0)
