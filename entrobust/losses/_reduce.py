"""The ``reduction`` argument shared by every loss, as in ``torch.nn.CrossEntropyLoss``."""

from __future__ import annotations

from torch import Tensor

from entrobust.errors import InvalidValueError

REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")


def reduce(per_example: Tensor, reduction: str) -> Tensor:
    """Reduce a per-example loss vector by ``reduction`` in {none, mean, sum}."""
    if reduction == "none":
        return per_example
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    raise InvalidValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")


def check_reduction(reduction: str) -> str:
    """Validate ``reduction`` early (at module construction) and return it."""
    if reduction not in REDUCTIONS:
        raise InvalidValueError(
            f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}"
        )
    return reduction
