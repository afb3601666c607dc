"""Defenses by name, each a trainer × an objective (composed, never copy-pasted).

=============  ========  =========  =====================================
name           trainer   objective  paper
=============  ========  =========  =====================================
normal         standard  ce         Normal
entm           standard  entm       EntM (Eqn. 4)
ls             standard  ls         LS (Eqn. 6)
adp            adp       —          ADP ensemble (Pang et al., 2019)
pat            pat       ce         PAT (Eqn. 2)
pat-entm       pat       entm       PAT-EntM (Eqn. 5)
pat-ls         pat       ls         PAT-LS
trades         trades    ce         TRADES (Eqn. 3)
trades-entm    trades    entm       TRADES-EntM (App. E)
trades-ls      trades    ls         TRADES-LS
mart           mart      ce         MART (Wang et al., 2020), β = 6
mart-entm      mart      entm       MART-EntM (beyond the paper)
mart-ls        mart      ls         MART-LS (beyond the paper)
fast           fast      ce         fast AT, FGSM-RS (Wong et al., 2020)
fast-entm      fast      entm       FAST-EntM (beyond the paper)
fast-ls        fast      ls         FAST-LS (beyond the paper)
=============  ========  =========  =====================================

The EntM/LS variants of MART and fast AT swap the objective the way Eqn. 5 swaps it for PAT;
``entrobust.defenses.mart`` and ``entrobust.defenses.fast`` say where the references leave a
choice and what we chose.
"""

from __future__ import annotations

from torch import Tensor, nn

# Importing the trainer modules registers their trainers in TRAINERS.
from entrobust.defenses import adp, fast, mart, pat, standard, trades  # noqa: F401
from entrobust.defenses.objectives import make_objective
from entrobust.defenses.trades import TRADES_BETA  # noqa: F401  (re-exported)
from entrobust.defenses.trainer import TRAINERS, DefenseParams, Trainer
from entrobust.errors import InvalidValueError
from entrobust.registry import Registry

#: Trainers with an inner adversary (the paper's "with AT"), derived from :data:`TRAINERS`.
ADVERSARIAL_TRAINERS = tuple(name for name, t in TRAINERS.items() if t.adversarial)

DEFENSES: Registry[tuple[str, str]] = Registry(
    "defense",
    {
        "normal": ("standard", "ce"),
        "entm": ("standard", "entm"),
        "ls": ("standard", "ls"),
        "adp": ("adp", "ce"),
        "pat": ("pat", "ce"),
        "pat-entm": ("pat", "entm"),
        "pat-ls": ("pat", "ls"),
        "trades": ("trades", "ce"),
        "trades-entm": ("trades", "entm"),
        "trades-ls": ("trades", "ls"),
        "mart": ("mart", "ce"),
        "mart-entm": ("mart", "entm"),
        "mart-ls": ("mart", "ls"),
        "fast": ("fast", "ce"),
        "fast-entm": ("fast", "entm"),
        "fast-ls": ("fast", "ls"),
    },
)


def list_defenses() -> list[str]:
    """Names of every defense.

    Example:
        >>> "pat-entm" in list_defenses()
        True
    """
    return DEFENSES.names()


def trainer_of(defense: str) -> Trainer:
    """The :class:`~entrobust.defenses.trainer.Trainer` record of ``defense``.

    Example:
        >>> trainer_of("mart-entm").name, trainer_of("adp").ensemble
        ('mart', True)
    """
    return TRAINERS.require(DEFENSES.require(defense)[0])


def proxy_defense(defense: str) -> str:
    """The paper's black-box proxy for ``defense``: ``pat`` for AT defenses, else ``normal``.

    The rule is its trainer's :attr:`~entrobust.defenses.trainer.Trainer.proxy`.

    Example:
        >>> proxy_defense("trades-entm"), proxy_defense("ls"), proxy_defense("adp")
        ('pat', 'normal', 'normal')
    """
    return trainer_of(defense).proxy


class Defense:
    """A named defense: ``step(model, x, y)`` returns the training loss for one batch.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from entrobust.defenses import TrainingAdversary
        >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=2)
        >>> d = Defense("pat-entm", DefenseParams(lam=2.0, adversary=adv))
        >>> d.trainer, d.objective_name, d.uses_adversarial_training
        ('pat', 'entm', True)
        >>> d.step(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.rand(2, 4),
        ...        torch.tensor([0, 2])).backward()
    """

    def __init__(self, name: str, params: DefenseParams) -> None:
        self.name = name
        self.trainer, self.objective_name = DEFENSES.require(name)
        self.trainer_record: Trainer = TRAINERS.require(self.trainer)
        self.params = params
        if self.uses_adversarial_training and params.adversary is None:
            raise InvalidValueError(f"defense '{name}' needs a training adversary")
        self.objective = make_objective(self.objective_name, lam=params.lam, gamma=params.gamma)
        self._step = self.trainer_record.make_step(self.objective, params)

    @property
    def uses_adversarial_training(self) -> bool:
        """True for the PAT, TRADES, MART and fast-AT families (the paper's "with AT")."""
        return self.trainer_record.adversarial

    @property
    def is_ensemble(self) -> bool:
        """True when the model must be an ``Ensemble`` (ADP)."""
        return self.trainer_record.ensemble

    def step(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """The scalar training loss of one batch; the caller owns ``zero_grad/backward/step``."""
        return self._step(model, x, y)

    def __repr__(self) -> str:
        return (
            f"Defense({self.name!r}, trainer={self.trainer!r}, objective={self.objective_name!r})"
        )
