"""Defenses = trainer (standard, PAT, TRADES, MART, fast AT, ADP) × objective (CE, EntM, LS)."""

from entrobust.defenses.adp import adp_step
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.defenses.fast import FAST_STEP_RATIO, fast_step
from entrobust.defenses.mart import MART_BETA, mart_loss, mart_step
from entrobust.defenses.objectives import OBJECTIVES, make_objective
from entrobust.defenses.pat import pat_step
from entrobust.defenses.registry import (
    ADVERSARIAL_TRAINERS,
    DEFENSES,
    TRADES_BETA,
    Defense,
    DefenseParams,
    list_defenses,
)
from entrobust.defenses.standard import standard_step
from entrobust.defenses.trades import trades_step

__all__ = [
    "ADVERSARIAL_TRAINERS",
    "DEFENSES",
    "FAST_STEP_RATIO",
    "MART_BETA",
    "OBJECTIVES",
    "TRADES_BETA",
    "Defense",
    "DefenseParams",
    "TrainingAdversary",
    "adp_step",
    "fast_step",
    "list_defenses",
    "make_objective",
    "mart_loss",
    "mart_step",
    "pat_step",
    "standard_step",
    "trades_step",
]
