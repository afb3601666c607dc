"""Projected gradient ascent on any loss over any threat-model ball (Madry et al., 2018).

The generic engine :func:`pgd`, shared by training and attacks (the ``Attack`` classes built on
it, PGD/FGSM/CW, live in :mod:`entrobust.attacks.pgd_attack`). PAT's inner maximisation, TRADES' KL inner maximisation, CW-margin PGD and the smoothed-label
adaptive attack all call :func:`pgd` and differ only in ``loss_fn``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from entrobust.attacks.threat import L2Ball, LinfBall

LossFn = Callable[[Tensor, Tensor], Tensor]


def pgd(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    loss_fn: LossFn,
    ball: LinfBall | L2Ball,
    steps: int,
    step_size: float,
    init: str = "uniform",
    init_std: float = 0.0,
    x_init: Tensor | None = None,
    project_init: bool = True,
) -> Tensor:
    """Maximise ``loss_fn(model(x_adv), target)`` (summed over the batch) inside ``ball``.

    The model is used as it is (the caller chooses its mode; see ``entrobust.modes``); only
    the input receives gradients, so nothing accumulates in the parameters' ``.grad``.

    Args:
        model: maps images in [0, 1] to logits.
        x: clean images ``(N, ...)`` in [0, 1].
        target: whatever ``loss_fn`` takes as its second argument (labels, probabilities).
        loss_fn: ``(logits, target) -> loss``; a per-example loss is summed.
        ball: the threat model (``LinfBall`` or ``L2Ball``).
        steps: number of ascent steps.
        step_size: step length (L∞: per-pixel; L2: Euclidean).
        init: start point: ``"none"``, ``"uniform"`` in the ball, or ``"normal"``.
        init_std: standard deviation of the ``"normal"`` start.
        x_init: an explicit start point (overrides ``init``; projected onto the ball).
        project_init: ``False`` takes the first gradient at ``x_init`` as given, even outside
            the ball or [0, 1] (TRADES' reference does so); every step is still projected.

    Returns:
        Detached adversarial images on ``x``'s device, inside the ball and [0, 1].

    Example:
        >>> import torch
        >>> from torch import nn
        >>> import torch.nn.functional as F
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(5, 4), torch.randint(0, 3, (5,))
        >>> x_adv = pgd(model, x, y, loss_fn=F.cross_entropy, ball=LinfBall(0.1), steps=5,
        ...             step_size=0.025)
        >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
        True
    """
    x = x.detach()
    if x_init is None:
        x_adv = ball.init(x, init, init_std)
    else:
        x_adv = ball.project(x_init.detach(), x) if project_init else x_init.detach().clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            loss = loss_fn(model(x_adv), target)
            (grad,) = torch.autograd.grad(loss.sum(), x_adv)
        x_adv = ball.project(ball.step(x_adv.detach(), grad, step_size), x)
    return x_adv.detach()
