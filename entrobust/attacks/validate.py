"""Refuse attacks that do nothing or never finish: ε = 0, zero or absurd step counts.

The constructors of :class:`~entrobust.attacks.pgd_attack.PGDAttack` and
:class:`~entrobust.attacks.random_search.RandomSearch` check their own arguments;
:func:`check_attack` applies the same rules to any built attack (AutoAttack, ART, ...), so a
command can check every name before any work.

Example:
    >>> from entrobust.attacks import get_attack
    >>> check_attack(get_attack("pgd10-8")).name
    'pgd10-8'
    >>> check_attack(get_attack("autoattack-0"))
    Traceback (most recent call last):
    ...
    entrobust.errors.InvalidValueError: attack 'autoattack-0': ε = 0 perturbs nothing; use 'clean' for clean accuracy
"""

from __future__ import annotations

import math
from typing import Any

from entrobust.errors import InvalidValueError

#: More steps (or restarts) than this is a typo, not an experiment.
MAX_STEPS = 100_000
#: More random-search samples per image than this is a typo.
MAX_SAMPLES = 10_000_000
#: Attacks that legitimately have no radius.
UNBOUNDED = ("clean", "min-l2")


def check_strength(name: str, eps: float, steps: int | None = None) -> None:
    """Refuse ε ≤ 0 and steps outside 1 .. :data:`MAX_STEPS` (one line naming the attack)."""
    if not eps > 0:  # NaN too
        raise InvalidValueError(
            f"attack '{name}': ε = {eps:g} perturbs nothing; use 'clean' for clean accuracy"
        )
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise InvalidValueError(
            f"attack '{name}': {steps} steps is outside 1..{MAX_STEPS}"
            + ("; use 'clean' for clean accuracy" if steps < 1 else "; check for a typo")
        )


def check_attack(attack: Any) -> Any:
    """``attack`` if it perturbs something in a sane number of steps, else InvalidValueError."""
    name = getattr(attack, "name", type(attack).__name__)
    if name in UNBOUNDED:
        return attack
    eps = getattr(attack, "eps", math.inf)
    steps = getattr(attack, "steps", None)
    check_strength(
        name, math.inf if eps is None else eps, steps if isinstance(steps, int) else None
    )
    samples = getattr(attack, "n_samples", None)
    if isinstance(samples, int) and not 1 <= samples <= MAX_SAMPLES:
        raise InvalidValueError(f"attack '{name}': {samples} samples is outside 1..{MAX_SAMPLES}")
    return attack
