"""Attacks behind one protocol ``attack(model, x, y) -> x_adv``; see :mod:`.registry` for names.

Running an attack over a dataset (in batches, seeded), counting what survives it and caching
transfer examples is the evaluation layer's job (:mod:`entrobust.evaluation`: ``run_attack``,
``robust_flags``, ``craft_cached``, ``random_search_report``), which imports this package;
nothing here imports it.
"""

from entrobust.attacks.adaptive import AdaptiveSmoothedPGD
from entrobust.attacks.attack_losses import ce_loss, cw_margin_loss, smoothed_ce_loss
from entrobust.attacks.base import Attack, AttackBudgetError, check_budget
from entrobust.attacks.pgd_attack import NoAttack, PGDAttack, fgsm
from entrobust.attacks.projected_ascent import pgd
from entrobust.attacks.random_search import RandomSearch
from entrobust.attacks.registry import (
    ATTACK_FORMS,
    ATTACK_REGISTRY,
    AttackForm,
    AttackOptions,
    get_attack,
    register_attack,
)
from entrobust.attacks.threat import L2Ball, LinfBall, check_linf_eps
from entrobust.attacks.transfer import TransferAttack

__all__ = [
    "ATTACK_FORMS",
    "ATTACK_REGISTRY",
    "AdaptiveSmoothedPGD",
    "Attack",
    "AttackBudgetError",
    "AttackForm",
    "AttackOptions",
    "L2Ball",
    "LinfBall",
    "NoAttack",
    "PGDAttack",
    "RandomSearch",
    "TransferAttack",
    "ce_loss",
    "check_budget",
    "check_linf_eps",
    "cw_margin_loss",
    "fgsm",
    "get_attack",
    "pgd",
    "register_attack",
    "smoothed_ce_loss",
]
