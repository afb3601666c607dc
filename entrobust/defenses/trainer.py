"""The trainer half of a defense, as records that carry its behaviour (timm's registry pattern).

Each trainer module (``standard``, ``pat``, ``trades``, ``mart``, ``fast``, ``adp``) defines its
step function and registers a :class:`Trainer` next to it with :func:`register_trainer`; every
question about a trainer (does it need a training adversary? an ensemble? which proxy attacks
it in the black-box rows? what does one example cost?) is asked of its record, never of its
name.

Example:
    >>> from entrobust.defenses import TRAINERS
    >>> TRAINERS.names()
    ['adp', 'fast', 'mart', 'pat', 'standard', 'trades']
    >>> pat = TRAINERS.require("pat")
    >>> pat.adversarial, pat.ensemble, pat.proxy, pat.passes_per_example(at_steps=7, members=1)
    (True, False, 'pat', 9)
    >>> TRAINERS.require("adp").evaluated_under("cw-8"), TRAINERS.require("adp").proxy
    (False, 'normal')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from entrobust.defenses.adversary import TrainingAdversary
from entrobust.registry import Registry

#: The per-batch objective L: ``(logits, y) -> scalar loss``.
LossFn = Callable[[Tensor, Tensor], Tensor]
#: A bound training step: ``(model, x, y) -> scalar loss``; the caller owns the optimizer.
Step = Callable[[nn.Module, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class DefenseParams:
    """Every hyperparameter a defense may read (the unused ones are ignored).

    ``beta=None`` means the trainer's own default: 3 for TRADES (the paper), 6 for MART (its
    reference).
    """

    lam: float = 2.0
    gamma: float | None = None
    alpha: float = 0.5
    beta: float | None = None
    adversary: TrainingAdversary | None = None
    inner: str = "objective"
    adp_alpha: float = 2.0
    adp_beta: float = 0.5


@dataclass(frozen=True)
class Trainer:
    """One training procedure and what the rest of the library needs to know about it.

    Attributes:
        name: the trainer's name (the first half of a defense's ``(trainer, objective)``).
        make_step: ``(objective, params) -> step`` binds the step function to a defense's
            objective and :class:`DefenseParams`.
        passes_per_example: ``(at_steps=k, members=K) -> passes``: forward+backward image
            passes per training example (the cost model of :mod:`entrobust.bench.estimate`).
        description: one line for listings and docs.
        adversarial: it has an inner adversary (the paper's "with AT": Table 5's AT column, a
            training adversary is required).
        ensemble: the model it trains is an :class:`~entrobust.models.Ensemble`.
        proxy: the defense whose model crafts the black-box (transfer) examples against it:
            the paper's rule, PAT for defenses with AT, Normal for the others.
        reads: the :class:`DefenseParams` fields its step reads (besides the objective's).
        beta: its default β when it reads one (TRADES 3, MART 6), else ``None``.
        at_step_ratio: its own training step as a multiple of ε (fast AT: 1.25), else ``None``
            (the dataset's step).
        at_steps: its own number of training attack steps (fast AT: 1), else ``None``.
        skip_attacks: attack-name prefixes its defenses are not evaluated under.
        skip_reason: why those cells are left out (for readers of the record and the docs).
        monitor_overfitting: its runs are watched for catastrophic overfitting
            (:mod:`entrobust.training.overfit`; single-step AT).

    Example:
        >>> t = Trainer("clean", lambda objective, params: lambda m, x, y: objective(m(x), y),
        ...             passes_per_example=lambda at_steps, members: 1)
        >>> t.adversarial, t.proxy, t.evaluated_under("pgd10-8")
        (False, 'normal', True)
    """

    name: str
    make_step: Callable[[LossFn, DefenseParams], Step] = field(repr=False)
    passes_per_example: Callable[..., float] = field(repr=False)
    description: str = ""
    adversarial: bool = False
    ensemble: bool = False
    proxy: str = "normal"
    reads: tuple[str, ...] = ()
    beta: float | None = None
    at_step_ratio: float | None = None
    at_steps: int | None = None
    skip_attacks: tuple[str, ...] = ()
    skip_reason: str = ""
    monitor_overfitting: bool = False

    def evaluated_under(self, attack: str) -> bool:
        """Whether the bench evaluates this trainer's defenses under ``attack`` (a grid name).

        Example:
            >>> Trainer("x", print, print, skip_attacks=("cw",)).evaluated_under("cw40-8")
            False
        """
        return not attack.startswith(self.skip_attacks) if self.skip_attacks else True


#: Every trainer, registered by the module that defines its step function.
TRAINERS: Registry[Trainer] = Registry("trainer")


def register_trainer(trainer: Trainer) -> Trainer:
    """Add ``trainer`` to :data:`TRAINERS` under its name and return it (one name, one record).

    Example:
        >>> register_trainer(TRAINERS.require("pat"))
        Traceback (most recent call last):
        ...
        ValueError: trainer 'pat' is already registered
    """
    return TRAINERS.register(trainer.name, trainer)
