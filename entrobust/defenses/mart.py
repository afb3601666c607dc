"""MART (Wang et al., ICLR 2020), faithful to the reference ``mart.py`` (YisenWang/MART).

Inner maximisation in eval mode: start at ``x + 0.001·N(0, 1)``, ascend cross-entropy (for
MART-EntM/-LS: L by default, see below) with L∞ sign steps of the training adversary (step,
steps, ε), project onto the ball and [0, 1]. Outer
loss in the caller's mode, from a clean and then an adversarial forward pass (the reference's
order, which matters for BatchNorm's running statistics in train mode)::

    BCE(p_adv, y) + β · mean_i( Σ_k KL(p_clean ‖ p_adv)_ik · (1 − p_clean[i, y_i]) )
    BCE(p_adv, y) = CE(adv, y) + NLL(log(1.0001 − max_{k≠y} p_adv_k), y)     # "boosted CE"

with β = 6 by default and the reference's numerical guards kept verbatim (``+ 1e-12`` inside the
logarithms, ``1.0000001 − p_y`` as the KL weight); neither the clean softmax nor p_y is
detached, as in the reference.

MART-EntM and MART-LS: the reference has no regularizer, so three choices are ours.

* The regularizer replaces the boosted CE's **CE term** on the adversarial logits, as Eqn. 5
  replaces PAT's CE: MART-EntM uses ``CE(adv) − λ·H(softmax(adv))``, MART-LS the smoothed-label
  CE. The margin term ``NLL(log(1.0001 − max_{k≠y} p_adv_k))`` and the KL term weighted by
  ``1 − p_clean[y]`` (hard label) are MART's own and stay as they are.
* The inner maximisation ascends the defense's own objective by default
  (``inner="objective"``, the analogue of Eqn. 5 putting L inside the max); ``inner="ce"`` keeps
  the reference's CE adversary. For plain MART (L = CE) the two are the same computation,
  identical to the reference.
* Nothing else changes (start, step, projection, β).

As in the reference (and our TRADES), the start ``x + 0.001·N(0, 1)`` is not clipped: the first
gradient is taken there; every step is projected. One difference: the model's modes are
restored after the attack (the reference leaves the model in train mode whatever it was).

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=3)
    >>> loss = mart_step(model, torch.rand(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(), adv)
    >>> loss.backward()
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.attacks.projected_ascent import pgd
from entrobust.defenses.adversary import TrainingAdversary, select_inner_loss
from entrobust.defenses.trainer import DefenseParams, Step, Trainer, register_trainer
from entrobust.modes import eval_mode

#: MART's β in the reference (``train_*.py``: ``--beta 6.0``).
MART_BETA = 6.0

Objective = Callable[[Tensor, Tensor], Tensor]


def mart_adversary(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Objective,
    adversary: TrainingAdversary,
    inner: str = "objective",
) -> Tensor:
    """MART's adversarial examples: PGD from ``x + 0.001·N(0, 1)`` in eval mode, modes restored.

    Returns detached images inside the ε-ball around ``x`` and [0, 1] (``steps ≥ 1``).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x = torch.rand(2, 4)
        >>> x_adv = mart_adversary(model, x, torch.tensor([0, 1]), nn.CrossEntropyLoss(),
        ...                        TrainingAdversary(eps=0.1, step_size=0.03, steps=3))
        >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
        True
    """
    loss_fn = select_inner_loss(inner, objective)
    with eval_mode(model):
        return pgd(
            model,
            x,
            y,
            loss_fn=loss_fn,
            ball=adversary.ball,
            steps=adversary.steps,
            step_size=adversary.step_size,
            x_init=x + 0.001 * torch.randn_like(x),
            project_init=False,
        )


def mart_loss(
    logits: Tensor,
    logits_adv: Tensor,
    y: Tensor,
    objective: Objective = F.cross_entropy,
    beta: float = MART_BETA,
) -> Tensor:
    """MART's outer loss from clean and adversarial logits (the reference's arithmetic).

    Args:
        logits: clean logits ``(N, C)``.
        logits_adv: adversarial logits ``(N, C)``.
        y: labels ``(N,)``.
        objective: the term replacing the boosted CE's CE (CE, EntM or LS), mean-reduced.
        beta: weight of the (1 − p_y)-weighted KL term.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
        >>> round(float(mart_loss(logits, logits, torch.tensor([0]))), 4)  # CE + margin; no KL
        0.352
    """
    adv_probs = F.softmax(logits_adv, dim=1)
    true_class = F.one_hot(y, adv_probs.shape[1]).bool()
    other_max = adv_probs.masked_fill(true_class, float("-inf")).amax(dim=1)
    boosted = objective(logits_adv, y) - torch.log(1.0001 - other_max + 1e-12).mean()
    nat_probs = F.softmax(logits, dim=1)
    true_probs = nat_probs.gather(1, y.unsqueeze(1)).squeeze(1)
    kl = F.kl_div(torch.log(adv_probs + 1e-12), nat_probs, reduction="none").sum(dim=1)
    return boosted + float(beta) * (kl * (1.0000001 - true_probs)).sum() / len(y)


def mart_step(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    objective: Objective,
    adversary: TrainingAdversary,
    beta: float = MART_BETA,
    inner: str = "objective",
) -> Tensor:
    """One MART loss (boosted L on x_adv + β·weighted KL); the caller owns the optimizer step.

    Args:
        model: maps images in [0, 1] to logits; the outer passes run in its own mode.
        x: clean images in [0, 1].
        y: labels.
        objective: L ∈ {CE, EntM, LS} (the boosted CE's CE term).
        adversary: ε, step and steps of the inner PGD.
        beta: KL weight (reference: 6).
        inner: ``"objective"`` (ascend L, the default) or ``"ce"`` (the reference's adversary).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=3)
        >>> mart_step(model, torch.rand(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(),
        ...           adv).requires_grad
        True
    """
    x_adv = mart_adversary(model, x, y, objective, adversary, inner)
    logits = model(x)
    logits_adv = model(x_adv)
    return mart_loss(logits, logits_adv, y, objective, beta)


def _bind(objective: Objective, params: DefenseParams) -> Step:
    beta = MART_BETA if params.beta is None else params.beta
    return partial(
        mart_step, objective=objective, adversary=params.adversary, beta=beta, inner=params.inner
    )


MART = register_trainer(
    Trainer(
        "mart",
        _bind,
        passes_per_example=lambda at_steps, members: at_steps + 2,  # attack + clean + adversarial
        description="MART, boosted L on x_adv + β·(1 − p_y)-weighted KL (Wang et al., 2020)",
        adversarial=True,
        proxy="pat",
        reads=("adversary", "beta", "inner"),
        beta=MART_BETA,
    )
)
