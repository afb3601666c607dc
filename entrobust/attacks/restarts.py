"""Worst case over several runs (restarts, or a hyperparameter search) with early exit.

Matches torchattacks' ``MultiAttack``: each later run attacks only the points that every
earlier run failed to misclassify. Each run draws its random start for the *whole* batch and
uses the active rows, so early exit returns exactly what naive restarts would (same RNG):
per example, the first run that fools the model wins; robust points keep the first run's
result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

#: ``run(idx) -> x_adv`` for the rows ``idx`` of the batch.
Run = Callable[[Tensor], Tensor]


def worst_case(
    model: nn.Module, x: Tensor, y: Tensor, runs: Sequence[Run], early_exit: bool = True
) -> Tensor:
    """Per example, the first run's result that is misclassified (else the first run's).

    Args:
        model: in eval mode already.
        x, y: the batch.
        runs: callables mapping row indices to adversarial rows.
        early_exit: skip rows already fooled (same result, less work).
    """
    n = len(x)
    all_rows = torch.arange(n, device=x.device)
    result = x.clone()
    fooled = torch.zeros(n, dtype=torch.bool, device=x.device)
    for r, run in enumerate(runs):
        rows = all_rows[~fooled] if early_exit else all_rows
        if rows.numel() == 0:
            break
        x_r = run(rows)
        with torch.no_grad():
            wrong = model(x_r).argmax(dim=1) != y[rows]
        if r == 0:
            result[rows] = x_r
        new = wrong & ~fooled[rows]
        result[rows[new]] = x_r[new]
        fooled[rows[new]] = True
    return result
