"""Fast adversarial training, FGSM with a random start (Wong et al., "Fast is better than free",
ICLR 2020), faithful to the reference ``CIFAR10/train_fgsm.py`` (locuslab/fast_adversarial).

Per batch: δ uniform in the ε-ball, clipped so that x + δ lies in [0, 1]; one signed-gradient
step of size α on the cross-entropy; δ clipped to the ball and to [0, 1] again; the loss is
``L(f(x + δ), y)`` — no clean term. The reference's step is α = 10/255 for ε = 8/255, i.e.
α = 1.25·ε, which ``make_config`` uses as the default training step of the ``fast`` trainer
(and one step: ``at_steps = 1``). The step function takes ``adversary.steps`` steps so an
explicit ``--at-steps`` is honoured rather than ignored; with the defaults it is exactly FGSM-RS.

**Mode**: the reference keeps the model in train mode for the attack's forward pass (it calls
``model.train()`` once and never switches), so BatchNorm normalises the perturbed batch with
its own statistics and its running statistics move twice per step. We match it: the attack
runs in the caller's mode (train mode during training). This differs from our PAT/TRADES/MART,
whose references attack in eval mode; for models without BatchNorm or dropout the two are the
same computation.

**Objective** (FAST-EntM, FAST-LS; the reference has no regularizer): the outer loss is L on
x + δ, L ∈ {CE, EntM, LS}; the FGSM step ascends L itself by default (``inner="objective"``,
the analogue of Eqn. 5), or CE with ``inner="ce"``. For plain fast AT the two are identical to
the reference.

The start, step and projection are ``entrobust.attacks.projected_ascent`` with ``init="uniform"``:
``clamp(x + u, x − ε, x + ε) ∩ [0, 1]`` equals the reference's ``x + clamp(δ, −x, 1 − x)`` up
to float rounding, and the random numbers are drawn in the same order for single-channel images
(the reference draws channel by channel).

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> adv = TrainingAdversary(eps=8/255, step_size=10/255, steps=1)
    >>> fast_step(model, torch.rand(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(),
    ...           adv).backward()
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from entrobust.attacks.projected_ascent import pgd
from entrobust.defenses.adversary import TrainingAdversary, select_inner_loss
from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer

#: The reference's FGSM step as a multiple of ε (α = 10/255 at ε = 8/255).
FAST_STEP_RATIO = 1.25

Objective = Callable[[Tensor, Tensor], Tensor]


def fast_adversary(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Objective,
    adversary: TrainingAdversary,
    inner: str = "objective",
) -> Tensor:
    """FGSM-RS examples, computed in the model's current mode (train mode, as the reference).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x = torch.rand(2, 4)
        >>> x_adv = fast_adversary(model, x, torch.tensor([0, 1]), nn.CrossEntropyLoss(),
        ...                        TrainingAdversary(eps=0.1, step_size=0.125, steps=1))
        >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), bool(x_adv.min() >= 0)
        (True, True)
    """
    return pgd(
        model,
        x,
        y,
        loss_fn=select_inner_loss(inner, objective),
        ball=adversary.ball,
        steps=adversary.steps,
        step_size=adversary.step_size,
        init="uniform",
    )


def fast_step(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Objective,
    adversary: TrainingAdversary,
    inner: str = "objective",
) -> Tensor:
    """One fast-AT loss ``L(f(x + δ), y)``; the caller owns the optimizer step.

    Args:
        model: maps images in [0, 1] to logits; attack and loss run in its own mode.
        x: clean images in [0, 1].
        y: labels.
        objective: L ∈ {CE, EntM, LS}.
        adversary: ε, the step α (reference: 1.25·ε) and the number of steps (1: FGSM).
        inner: ``"objective"`` (ascend L, the default) or ``"ce"``.
    """
    x_adv = fast_adversary(model, x, y, objective, adversary, inner)
    return objective(model(x_adv), y)


def _bind(objective: Objective, params: DefenseParams) -> Step:
    return partial(fast_step, objective=objective, adversary=params.adversary, inner=params.inner)


FAST = register_trainer(
    Trainer(
        "fast",
        _bind,
        passes_per_example=lambda at_steps, members: at_steps + 1,  # FGSM step(s) + adversarial
        description="fast AT, FGSM with a random start, L(x + δ) (Wong et al., 2020)",
        adversarial=True,
        proxy="pat",
        reads=("adversary", "inner"),
        at_step_ratio=FAST_STEP_RATIO,
        at_steps=1,
        monitor_overfitting=True,
    )
)
