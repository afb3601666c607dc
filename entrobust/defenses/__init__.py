"""Defenses = trainer (standard, PAT, TRADES, ADP) × objective (CE, EntM, LS)."""

from entrobust.defenses.adp import adp_step
from entrobust.defenses.adversary import TrainingAdversary
from entrobust.defenses.objectives import OBJECTIVES, make_objective
from entrobust.defenses.pat import pat_step
from entrobust.defenses.registry import DEFENSES, Defense, DefenseParams, list_defenses
from entrobust.defenses.standard import standard_step
from entrobust.defenses.trades import trades_step

__all__ = [
    "DEFENSES",
    "OBJECTIVES",
    "Defense",
    "DefenseParams",
    "TrainingAdversary",
    "adp_step",
    "list_defenses",
    "make_objective",
    "pat_step",
    "standard_step",
    "trades_step",
]
