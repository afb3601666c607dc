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

from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from entrobust.defenses.adp import adp_step
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.defenses.fast import fast_step
from entrobust.defenses.mart import MART_BETA, mart_step
from entrobust.defenses.objectives import make_objective
from entrobust.defenses.pat import pat_step
from entrobust.defenses.standard import standard_step
from entrobust.defenses.trades import trades_step
from entrobust.errors import InvalidValueError
from entrobust.losses import ADPLoss
from entrobust.registry import Registry

#: TRADES' β in the paper (Eqn. 3).
TRADES_BETA = 3.0

TRAINERS = ("standard", "pat", "trades", "mart", "fast", "adp")
#: Trainers with an inner adversary (the paper's "with AT"; black-box proxy: a PAT model).
ADVERSARIAL_TRAINERS = ("pat", "trades", "mart", "fast")

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


class Defense:
    """A named defense: ``step(model, x, y)`` returns the training loss for one batch.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> adv = TrainingAdversary(eps=8/255, step_size=2/255, steps=2)
        >>> d = Defense("pat-entm", DefenseParams(lam=2.0, adversary=adv))
        >>> d.trainer, d.objective_name, d.uses_adversarial_training
        ('pat', 'entm', True)
        >>> d.step(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.rand(2, 4),
        ...        torch.tensor([0, 2])).backward()
    """

    def __init__(self, name: str, params: DefenseParams) -> None:
        self.name = name
        self.trainer, self.objective_name = DEFENSES.get(name)
        self.params = params
        if self.uses_adversarial_training and params.adversary is None:
            raise InvalidValueError(f"defense '{name}' needs a training adversary")
        self.objective = make_objective(self.objective_name, lam=params.lam, gamma=params.gamma)
        self._step = self._bind_step()

    @property
    def uses_adversarial_training(self) -> bool:
        """True for the PAT, TRADES, MART and fast-AT families (the paper's "with AT")."""
        return self.trainer in ADVERSARIAL_TRAINERS

    @property
    def is_ensemble(self) -> bool:
        """True when the model must be an ``Ensemble`` (ADP)."""
        return self.trainer == "adp"

    def _bind_step(self):
        p = self.params
        if self.trainer == "standard":
            return partial(standard_step, objective=self.objective)
        if self.trainer == "pat":
            return partial(
                pat_step,
                objective=self.objective,
                adversary=p.adversary,
                alpha=p.alpha,
                inner=p.inner,
            )
        if self.trainer == "trades":
            beta = TRADES_BETA if p.beta is None else p.beta
            return partial(trades_step, objective=self.objective, adversary=p.adversary, beta=beta)
        if self.trainer == "mart":
            beta = MART_BETA if p.beta is None else p.beta
            return partial(
                mart_step, objective=self.objective, adversary=p.adversary, beta=beta, inner=p.inner
            )
        if self.trainer == "fast":
            return partial(
                fast_step, objective=self.objective, adversary=p.adversary, inner=p.inner
            )
        return partial(adp_step, loss=ADPLoss(alpha=p.adp_alpha, beta=p.adp_beta))

    def step(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """The scalar training loss of one batch; the caller owns ``zero_grad/backward/step``."""
        return self._step(model, x, y)

    def __repr__(self) -> str:
        return (
            f"Defense({self.name!r}, trainer={self.trainer!r}, objective={self.objective_name!r})"
        )
