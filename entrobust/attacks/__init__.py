"""Attacks behind one protocol ``attack(model, x, y) -> x_adv``; see :mod:`.registry` for names."""

from entrobust.attacks.adaptive import AdaptiveSmoothedPGD
from entrobust.attacks.attack_losses import ce_loss, cw_margin_loss, smoothed_ce_loss
from entrobust.attacks.base import Attack, AttackBudgetError, check_budget
from entrobust.attacks.pgd_attack import NoAttack, PGDAttack, fgsm
from entrobust.attacks.projected_ascent import pgd
from entrobust.attacks.random_search import RandomSearch
from entrobust.attacks.registry import ATTACK_FORMS, AttackOptions, get_attack
from entrobust.attacks.threat import L2Ball, LinfBall, check_linf_eps
from entrobust.attacks.transfer import TransferAttack, proxy_defense

__all__ = [
    "ATTACK_FORMS",
    "AdaptiveSmoothedPGD",
    "Attack",
    "AttackBudgetError",
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
    "proxy_defense",
    "smoothed_ce_loss",
]
