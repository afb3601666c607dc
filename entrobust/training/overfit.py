"""Catastrophic overfitting monitor for fast (FGSM) adversarial training.

FGSM training can collapse within an epoch: robustness to multi-step PGD falls to ~0 while
FGSM accuracy keeps rising (Wong et al., ICLR 2020, §5; their ``train_fgsm.py --early-stop``
checks PGD accuracy on one batch each epoch). The runner calls :meth:`OverfitMonitor.epoch_record`
after every epoch of a ``fast*`` defense, which

* measures **PGD accuracy on a fixed held-out batch**: 256 test points (a seeded choice),
  L∞ PGD-10 on cross-entropy at the training ε, step ε/4 (the reference's 2/255 at 8/255),
  uniform start, the model in eval mode; a point counts when it is correct both clean and
  attacked;
* keeps the training run bit-reproducible: the attack draws its start under
  :func:`entrobust.seeding.seeded` from its own seed, eval-mode passes touch no BatchNorm statistics
  and only the input receives gradients, so resuming gives the same weights;
* adds ``pgd_accuracy``, ``pgd_collapsed`` and ``pgd_seconds`` to the epoch's record (kept in
  ``metrics.json``'s history, outside the epoch's ``seconds``), and
* **warns** (one line, :class:`CatastrophicOverfittingWarning`) when the accuracy has
  collapsed: more than 20 points below the best epoch so far, or below half of that best once
  the best has reached 10 % (:func:`is_collapse`; the reference stops when the drop from the
  previous epoch exceeds 20 points).

For every run, :func:`near_chance` tells a model that did not learn at all (clean accuracy
near 1/classes: adversarial training stalled at the uniform prediction); the runner warns
(:class:`NotLearnedWarning`) and the bench's table marks such defenses and keeps them out of
the headline.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.attacks.projected_ascent import pgd
from entrobust.attacks.threat import LinfBall
from entrobust.defenses import DEFENSES, TRAINERS
from entrobust.evaluation import adversarial_accuracy
from entrobust.modes import eval_mode
from entrobust.seeding import seeded
from entrobust.tensors import as_float_images

#: Trainers whose runs are monitored (their records' ``monitor_overfitting``).
MONITORED_TRAINERS = tuple(n for n, t in TRAINERS.items() if t.monitor_overfitting)
#: Collapse: an absolute drop from the best epoch of more than this (accuracy fraction) ...
MAX_DROP = 0.20
#: ... or falling below this fraction of the best, once the best is at least ``MIN_BEST``.
MIN_RATIO = 0.5
MIN_BEST = 0.10


#: A model whose clean accuracy stays below this multiple of chance (1/classes) did not learn.
CHANCE_FACTOR = 1.5


def near_chance(accuracy: float, num_classes: int) -> bool:
    """Whether a clean accuracy (a fraction) is too close to random guessing for the model to
    have learned anything (below :data:`CHANCE_FACTOR` × 1/classes): adversarial training that
    stalled at the uniform prediction, a diverged learning rate. Such a model keeps its ~1/K
    "robust accuracy" under every attack (a constant prediction cannot be flipped), so its
    numbers measure no defense.

    Example:
        >>> near_chance(0.103, 10), near_chance(0.60, 10), near_chance(0.012, 100)
        (True, False, True)
    """
    return accuracy < CHANCE_FACTOR / num_classes


class NotLearnedWarning(UserWarning):
    """A training run ended with clean accuracy near chance (:func:`near_chance`)."""


class CatastrophicOverfittingWarning(UserWarning):
    """PGD accuracy on the monitor batch collapsed during fast adversarial training."""


def is_collapse(accuracy: float, best: float | None) -> bool:
    """The collapse rule: ``best − acc > 0.2``, or ``acc < best/2`` when ``best ≥ 0.1``.

    Example:
        >>> is_collapse(0.30, 0.55), is_collapse(0.15, 0.35), is_collapse(0.02, 0.05)
        (True, True, False)
        >>> is_collapse(0.5, None), is_collapse(0.45, 0.55)
        (False, False)
    """
    if best is None:
        return False
    return best - accuracy > MAX_DROP or (best >= MIN_BEST and accuracy < MIN_RATIO * best)


@dataclass
class OverfitMonitor:
    """PGD accuracy of a model on a fixed batch, with a warning when it collapses.

    Attributes:
        x: images in [0, 1] (or uint8) on the model's device.
        y: labels.
        eps: L∞ radius (the training ε).
        steps: PGD steps.
        seed: seed of the attack's random start (drawn in a forked RNG).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> mon = OverfitMonitor(torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,)), eps=0.1)
        >>> state = torch.get_rng_state()
        >>> rec = mon.epoch_record(model, history=[])
        >>> sorted(rec), torch.equal(state, torch.get_rng_state())
        (['pgd_accuracy', 'pgd_collapsed', 'pgd_seconds'], True)
    """

    x: Tensor
    y: Tensor
    eps: float
    steps: int = 10
    seed: int = 0

    @classmethod
    def for_run(
        cls, config: Any, x_test: Tensor, y_test: Tensor, device: torch.device, size: int = 256
    ) -> OverfitMonitor | None:
        """The monitor of a run: ``size`` test points for ``fast*`` defenses, else None.

        The points are chosen by ``data_seed`` (the same batch for every seed of a defense);
        the attack's start is drawn from the run's ``seed``.

        Example:
            >>> import torch
            >>> from entrobust.training.config import make_config
            >>> x, y = torch.zeros(300, 1, 8, 8, dtype=torch.uint8), torch.zeros(300).long()
            >>> mon = OverfitMonitor.for_run(make_config("digits", "fast"), x, y, torch.device("cpu"))
            >>> len(mon.x), mon.steps, round(mon.eps * 255)
            (256, 10, 32)
            >>> OverfitMonitor.for_run(make_config("digits", "pat"), x, y, torch.device("cpu"))
        """
        if DEFENSES.require(config.defense)[0] not in MONITORED_TRAINERS or len(x_test) == 0:
            return None
        order = torch.randperm(
            len(x_test), generator=torch.Generator().manual_seed(config.data_seed)
        )
        idx = order[:size].sort().values
        x = as_float_images(x_test[idx]).to(device)
        return cls(x, y_test[idx].to(device), eps=config.at_eps, seed=config.seed)

    def pgd_accuracy(self, model: nn.Module) -> float:
        """Fraction of the batch correct both clean and under PGD; no global RNG is consumed."""
        with seeded(self.seed, self.x.device), eval_mode(model):
            x_adv = pgd(
                model,
                self.x,
                self.y,
                loss_fn=F.cross_entropy,
                ball=LinfBall(self.eps),
                steps=self.steps,
                step_size=self.eps / 4,
                init="uniform",
            )
            return adversarial_accuracy(model, self.x, x_adv, self.y)

    def epoch_record(self, model: nn.Module, history: list[dict[str, Any]]) -> dict[str, Any]:
        """This epoch's ``pgd_accuracy``/``pgd_collapsed``/``pgd_seconds``; warns on collapse.

        Args:
            model: the model being trained (its modes are restored).
            history: the records of the previous epochs (their ``pgd_accuracy`` gives the best).
        """
        t0 = time.perf_counter()
        acc = self.pgd_accuracy(model)
        previous = [h["pgd_accuracy"] for h in history if h.get("pgd_accuracy") is not None]
        best = max(previous, default=None)
        collapsed = is_collapse(acc, best)
        if collapsed:
            warnings.warn(
                f"catastrophic overfitting: PGD{self.steps} accuracy on {len(self.x)} held-out "
                f"points fell to {acc:.1%} at epoch {len(history) + 1} (best {best:.1%}); "
                "FGSM training has likely collapsed (lower ε/step or stop early)",
                CatastrophicOverfittingWarning,
                stacklevel=2,
            )
        return {
            "pgd_accuracy": acc,
            "pgd_collapsed": collapsed,
            "pgd_seconds": time.perf_counter() - t0,
        }
