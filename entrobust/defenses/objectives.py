"""The regularizer half of a defense: the per-example objective L ∈ {CE, EntM(λ), LS(γ)}."""

from __future__ import annotations

from torch import nn

from entrobust.errors import InvalidValueError
from entrobust.losses import EntMLoss, LabelSmoothingLoss
from entrobust.registry import Registry

OBJECTIVES: Registry[str] = Registry(
    "objective",
    {
        "ce": "cross-entropy",
        "entm": "CE − λ·H(softmax) (Eqn. 4)",
        "ls": "CE against y − γ(y − u_C) (Eqn. 6)",
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
    OBJECTIVES.get(name)
    if name == "entm":
        return EntMLoss(lam=lam)
    if name == "ls":
        if gamma is None:
            raise InvalidValueError(
                "label smoothing needs γ and the paper gives none for this dataset; pass --gamma"
            )
        return LabelSmoothingLoss(gamma=gamma)
    return nn.CrossEntropyLoss()
