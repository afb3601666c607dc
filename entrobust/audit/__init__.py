"""Automated gradient-masking audit (Athalye et al. 2018; Carlini et al. 2019; AutoAttack's
``checks.py``): eight checks, each pass / fail / skip with its evidence.

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
====================  =====================================================================

Thresholds are in :mod:`.thresholds`. ``entrobust audit`` is the command line.
"""

from entrobust.audit.attack_checks import (
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
from entrobust.audit.result import AuditReport, CheckResult
from entrobust.audit.runner import CHECK_KEYS, run_audit

__all__ = [
    "CHECK_KEYS",
    "AuditReport",
    "AuditSettings",
    "CheckResult",
    "Probe",
    "check_convergence",
    "check_fgsm_vs_pgd",
    "check_large_eps",
    "check_probability_output",
    "check_random_search",
    "check_randomized_output",
    "check_white_vs_black",
    "check_zero_gradients",
    "input_gradients",
    "run_audit",
]
