"""Training without an adversary: minimise the objective on clean inputs (Normal, EntM, LS)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer


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


def _bind(objective: Callable[[Tensor, Tensor], Tensor], params: DefenseParams) -> Step:
    return partial(standard_step, objective=objective)


STANDARD = register_trainer(
    Trainer(
        "standard",
        _bind,
        passes_per_example=lambda at_steps, members: 1,
        description="minimise the objective on clean inputs (Normal, EntM, LS)",
    )
)
