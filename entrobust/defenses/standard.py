"""Training without an adversary: minimise the objective on clean inputs (Normal, EntM, LS)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


def standard_step(
    model: nn.Module, x: Tensor, y: Tensor, objective: Callable[[Tensor, Tensor], Tensor]
) -> Tensor:
    """Return ``objective(model(x), y)``; the caller owns ``zero_grad/backward/step``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(4, 3)
        >>> loss = standard_step(model, torch.rand(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss())
        >>> loss.backward()
    """
    return objective(model(x), y)
