"""Defenses = trainer (standard, PAT, TRADES, MART, fast AT, ADP) × objective (CE, EntM, LS).

Trainers are :class:`Trainer` records in :data:`TRAINERS`, objectives :class:`ObjectiveSpec`
records in :data:`OBJECTIVES`, each registered where it is defined.
"""

from entrobust.defenses.adp import adp_step
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.defenses.fast import FAST_STEP_RATIO, fast_step
from entrobust.defenses.mart import MART_BETA, mart_loss, mart_step
from entrobust.defenses.objectives import OBJECTIVES, ObjectiveSpec, make_objective
from entrobust.defenses.pat import pat_step
from entrobust.defenses.registry import (
    ADVERSARIAL_TRAINERS,
    DEFENSES,
    Defense,
    list_defenses,
    proxy_defense,
    trainer_of,
)
from entrobust.defenses.standard import standard_step
from entrobust.defenses.trades import TRADES_BETA, trades_step
from entrobust.defenses.trainer import TRAINERS, DefenseParams, Trainer, register_trainer

__all__ = [
    "ADVERSARIAL_TRAINERS",
    "DEFENSES",
    "FAST_STEP_RATIO",
    "MART_BETA",
    "OBJECTIVES",
    "TRADES_BETA",
    "TRAINERS",
    "Defense",
    "DefenseParams",
    "ObjectiveSpec",
    "Trainer",
    "TrainingAdversary",
    "adp_step",
    "fast_step",
    "list_defenses",
    "make_objective",
    "mart_loss",
    "mart_step",
    "pat_step",
    "proxy_defense",
    "register_trainer",
    "standard_step",
    "trades_step",
    "trainer_of",
]
