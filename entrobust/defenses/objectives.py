"""The regularizer half of a defense: the per-example objective L ∈ {CE, EntM(λ), LS(γ)}.

:data:`OBJECTIVES` maps each name to an :class:`ObjectiveSpec` whose ``make(lam, gamma)``
builds the loss module.

Example:
    >>> OBJECTIVES.names()
    ['ce', 'entm', 'ls']
    >>> OBJECTIVES["entm"].description
    'CE − λ·H(softmax) (Eqn. 4)'
    >>> OBJECTIVES["ce"].make(lam=2.0, gamma=None)
    CrossEntropyLoss()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from entrobust.errors import InvalidValueError
from entrobust.losses import EntMLoss, LabelSmoothingLoss
from entrobust.registry import Registry


@dataclass(frozen=True)
class ObjectiveSpec:
    """A named objective: ``make(lam=λ, gamma=γ)`` returns the loss module, called
    ``(logits, target)``; it reads only the hyperparameter it needs."""

    name: str
    make: Callable[..., nn.Module] = field(repr=False)
    description: str = ""


def _cross_entropy(lam: float, gamma: float | None) -> nn.Module:
    return nn.CrossEntropyLoss()


def _entm(lam: float, gamma: float | None) -> nn.Module:
    return EntMLoss(lam=lam)


def _label_smoothing(lam: float, gamma: float | None) -> nn.Module:
    if gamma is None:
        raise InvalidValueError(
            "label smoothing needs γ and the paper gives none for this dataset; pass --gamma"
        )
    return LabelSmoothingLoss(gamma=gamma)


OBJECTIVES: Registry[ObjectiveSpec] = Registry(
    "objective",
    {
        spec.name: spec
        for spec in (
            ObjectiveSpec("ce", _cross_entropy, "cross-entropy"),
            ObjectiveSpec("entm", _entm, "CE − λ·H(softmax) (Eqn. 4)"),
            ObjectiveSpec("ls", _label_smoothing, "CE against y − γ(y − u_C) (Eqn. 6)"),
        )
    },
)


def make_objective(name: str, *, lam: float = 2.0, gamma: float | None = None) -> nn.Module:
    """Build the objective ``name`` as a loss module called ``(logits, target)``.

    Example:
        >>> make_objective("entm", lam=2.0)
        EntMLoss(lam=2.0, reduction='mean')
        >>> make_objective("ls", gamma=0.74)
        LabelSmoothingLoss(gamma=0.74, reduction='mean')
    """
    return OBJECTIVES.require(name).make(lam=lam, gamma=gamma)
