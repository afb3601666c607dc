"""Automated gradient-masking audit (Athalye et al. 2018; Carlini et al. 2019; AutoAttack's
``checks.py``): nine checks, each pass / fail / warn / skip with its evidence.

====================  =====================================================================
key                   fails when
====================  =====================================================================
randomized-output     two forward passes of the same input differ
probability-output    the outputs are probabilities (softmax inside the model)
zero-gradients        too many examples have an all-zero input gradient
white-vs-black-box    white-box PGD does worse than PGD transferred from a proxy
random-search         random search breaks points that PGD left robust
large-eps             accuracy stays above random guessing at ε = 128/255 and 255/255
convergence           more PGD steps keep lowering accuracy a lot, or raise it
fgsm-vs-pgd           single-step FGSM beats multi-step PGD
adaptive-loss         (warns) the smoothed-label adaptive attack does much better than CE-PGD
====================  =====================================================================

Each check is a :class:`Check` record in :data:`CHECKS`, registered where it is defined
(:mod:`.model_checks`, :mod:`.attack_checks`); :data:`CHECK_KEYS` lists them in report order.
Thresholds are in :mod:`.thresholds`. ``entrobust audit`` is the command line.

Example:
    >>> len(CHECK_KEYS), CHECK_KEYS[-1]
    (9, 'adaptive-loss')
    >>> CHECKS["fgsm-vs-pgd"].description
    'single-step FGSM beats multi-step PGD'
"""

from entrobust.audit.attack_checks import (
    check_adaptive_loss,
    check_convergence,
    check_fgsm_vs_pgd,
    check_large_eps,
    check_random_search,
    check_white_vs_black,
)
from entrobust.audit.model_checks import (
    check_probability_output,
    check_randomized_output,
    check_zero_gradients,
    input_gradients,
)
from entrobust.audit.probe import AuditSettings, Probe
from entrobust.audit.registry import CHECKS, AuditContext, Check, checks_in_order, register_check
from entrobust.audit.result import AuditReport, CheckResult
from entrobust.audit.runner import CHECK_KEYS, run_audit

__all__ = [
    "CHECKS",
    "CHECK_KEYS",
    "AuditContext",
    "AuditReport",
    "AuditSettings",
    "Check",
    "CheckResult",
    "Probe",
    "check_adaptive_loss",
    "check_convergence",
    "check_fgsm_vs_pgd",
    "check_large_eps",
    "check_probability_output",
    "check_random_search",
    "check_randomized_output",
    "check_white_vs_black",
    "check_zero_gradients",
    "checks_in_order",
    "input_gradients",
    "register_check",
    "run_audit",
]
