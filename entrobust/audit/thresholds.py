"""Thresholds of the gradient-masking audit, one named constant per decision.

Accuracies are fractions in [0, 1]. The slacks absorb the sampling noise of a few hundred test
points and the randomness of random starts; they are deliberately small, because every check
compares two attacks on the *same* points, where a sound evaluation gives a clear ordering.

Sources: Athalye, Carlini & Wagner, "Obfuscated gradients give a false sense of security"
(ICML 2018, §3.1 "characteristic behaviours"); Carlini et al., "On evaluating adversarial
robustness" (2019, §5 checklist); AutoAttack's ``checks.py`` (Croce & Hein 2020) for the model
checks.
"""

from __future__ import annotations

#: (a) Fail when white-box accuracy exceeds black-box (transfer) accuracy by more than this.
WHITE_BOX_SLACK = 0.01

#: (b) Fail when random search breaks more than this fraction of the points PGD left robust.
RANDOM_SEARCH_MAX_BREAK_RATE = 0.01
#: (b) Random tries per surviving point (the paper: 10,000; the CLI's ``--samples``).
RANDOM_SEARCH_SAMPLES = 1000

#: (c) The large radii (k in ε = k/255) at which accuracy must collapse.
LARGE_EPS_KS: tuple[int, ...] = (128, 255)
#: (c) PGD steps at the large radii; the step size is 2.5·ε/steps (Madry et al.'s rule).
LARGE_EPS_STEPS = 100
#: (c) Fail when accuracy at a large ε exceeds random guessing (1/C) by more than this.
LARGE_EPS_SLACK = 0.02

#: (d) The step counts compared (PGD10 → PGD40 → PGD100, step ε/10 as the paper's PGDp-k).
CONVERGENCE_STEPS: tuple[int, ...] = (10, 40, 100)
#: (d) Fail when the last step increase still lowers accuracy by more than this (not converged).
CONVERGENCE_MAX_DROP = 0.03
#: (d) Fail when more steps *raise* accuracy by more than this (the attack gets lost).
CONVERGENCE_MAX_RISE = 0.01

#: (e) Fail when single-step FGSM beats multi-step PGD (FGSM accuracy < PGD accuracy − this).
FGSM_SLACK = 0.01

#: (f) Examples used by the model checks (randomized / probability outputs).
MODEL_CHECK_EXAMPLES = 256
#: (f) Forward passes compared by the randomized-output check.
RANDOMIZED_PASSES = 2
#: (f) Fail when two passes' L2-normalised outputs differ by more than this (AutoAttack: 1e-4).
RANDOMIZED_TOLERANCE = 1e-4
#: (f) Outputs within this of [0, 1] with rows summing to 1 ± this look like probabilities.
PROBABILITY_TOLERANCE = 1e-5
#: (f) Fail when more than this fraction of examples has an all-zero input gradient of the CE
#: loss (AutoAttack warns on any; a few saturated points do not mask a whole evaluation).
ZERO_GRADIENT_MAX_FRACTION = 0.01

#: (g) Warn when the smoothed-label adaptive attack (worst case over γ, the paper's Fig. 2
#: attack) beats CE-PGD with the same steps by more than this: the CE objective understates the
#: attack on this model (uncertainty-promoting training flattens the softmax CE climbs), so the
#: adaptive number is the one to report. A warning, not a failure (``--strict`` makes it one):
#: the gradients are informative, only the usual loss is not the strongest.
ADAPTIVE_SLACK = 0.02
