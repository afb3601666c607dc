"""Attacks by name, in the paper's notation: ε = k/255 and step ε/10 unless stated.

Each accepted form is registered once, where its factory is defined, with
:func:`register_attack`: an :class:`AttackForm` record holding the form (``pgd{steps}-{k}``), its
compiled pattern, the factory, an example name and a one-line description. :func:`get_attack`,
the error for an unknown name, ``entrobust list`` (:data:`ATTACK_FORMS`) and the tests (every
form's example must build a working attack) all read that one table.

Example:
    >>> for entry in ATTACK_REGISTRY.values():
    ...     print(f"{entry.form:<21} {entry.description}")
    clean                 no attack
    fgsm{k}               FGSM, ε = k/255 (ours)
    pgd{steps}-{k}        L∞ PGD on CE, ε = k/255, step ε/10, restarts (ours)
    cw{steps}-{k}         L∞ PGD on the CW margin (κ = 50), step ε/10, restarts (ours)
    l2pgd{steps}-{eps}    L2 PGD on CE, radius eps (e.g. l2pgd20-0.5), restarts (ours)
    adaptive{steps}-{k}   smoothed-label PGD, worst case over γ ∈ {0, …, 1} (ours)
    rs{samples}-{k}       random search, n random corners of the ε-ball (ours)
    autoattack-{k}        AutoAttack standard: APGD-CE, APGD-T, FAB-T, Square (pyautoattack)
    autoattack-rand-{k}   AutoAttack for randomized defenses: APGD-CE/DLR with EOT (pyautoattack)
    ta-autoattack-{k}     torchattacks' cheaper AutoAttack (not comparable)
    art-pgd{steps}-{k}    ART's PGD (cross-check)
    min-l2                minimal L2 distortion until misclassification (FAB-L2 + bisection)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from entrobust.attacks.adaptive import AdaptiveSmoothedPGD
from entrobust.attacks.base import Attack
from entrobust.attacks.pgd_attack import NoAttack, PGDAttack, fgsm
from entrobust.attacks.random_search import RandomSearch
from entrobust.attacks.validate import check_attack
from entrobust.errors import InvalidValueError, UnknownNameError


@dataclass(frozen=True)
class AttackOptions:
    """Options shared by the registry's attacks (the paper's defaults).

    Every option is part of the attack's :meth:`~entrobust.attacks.base.Attack.config`, so a
    result computed with other options is never mistaken for this one. ``seed`` is AutoAttack's
    own seed; the other attacks draw from torch's RNG, which the bench seeds per cell from the
    cell's identity (which includes this seed).
    """

    restarts: int = 5
    init: str = "normal"
    init_std: float = 0.005
    early_exit: bool = True
    seed: int = 0


#: ``factory(match, name, options) -> Attack`` for a name that matched the form's pattern.
AttackFactory = Callable[[re.Match[str], str, AttackOptions], Attack]


@dataclass(frozen=True)
class AttackForm:
    """One accepted form of attack name.

    Attributes:
        form: the form as shown to users, e.g. ``pgd{steps}-{k}``.
        pattern: the compiled pattern a (lower-cased) name must match in full.
        factory: ``(match, name, options) -> Attack``.
        example: a concrete name of this form (tested: it must build a working attack).
        description: one line saying what the attack is.
    """

    form: str
    pattern: re.Pattern[str]
    factory: AttackFactory
    example: str
    description: str


_FORMS: dict[str, AttackForm] = {}
#: Every registered form by its ``form`` string, in registration (= matching) order.
ATTACK_REGISTRY: Mapping[str, AttackForm] = MappingProxyType(_FORMS)


def register_attack(
    form: str, pattern: str, *, example: str, description: str
) -> Callable[[AttackFactory], AttackFactory]:
    """Decorator registering ``factory`` for names matching ``pattern`` (in full).

    Example:
        >>> "pgd{steps}-{k}" in ATTACK_REGISTRY, ATTACK_REGISTRY["pgd{steps}-{k}"].example
        (True, 'pgd5-16')
    """

    def add(factory: AttackFactory) -> AttackFactory:
        entry = AttackForm(form, re.compile(pattern), factory, example, description)
        if form in _FORMS:
            raise ValueError(f"attack form {form!r} is registered twice")
        if not entry.pattern.fullmatch(example):
            raise ValueError(f"example {example!r} does not match the form {form!r}")
        _FORMS[form] = entry
        return factory

    return add


def _linf(k: str, name: str) -> float:
    value = int(k)
    if value > 255:
        raise InvalidValueError(
            f"attack '{name}': ε = {value}/255 > 1; the number after the dash is k in ε = k/255 "
            "(e.g. pgd10-8 is ε = 8/255)"
        )
    return value / 255


def _pgd_options(o: AttackOptions) -> dict[str, Any]:
    """The options every PGD-family attack (PGD, CW, L2-PGD, adaptive) takes from ``o``."""
    return {
        "restarts": o.restarts,
        "init": o.init,
        "init_std": o.init_std,
        "early_exit": o.early_exit,
    }


def _named(attack: Attack, name: str) -> Attack:
    attack.name = name
    return attack


@register_attack(
    "clean",
    r"clean",
    example="clean",
    description="no attack",
)
def _clean(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return NoAttack()


@register_attack(
    "fgsm{k}",
    r"fgsm(\d+)",
    example="fgsm16",
    description="FGSM, ε = k/255 (ours)",
)
def _fgsm(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return fgsm(_linf(m[1], name), name=name)


@register_attack(
    "pgd{steps}-{k}",
    r"pgd(\d+)-(\d+)",
    example="pgd5-16",
    description="L∞ PGD on CE, ε = k/255, step ε/10, restarts (ours)",
)
def _pgd_ce(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return PGDAttack(_linf(m[2], name), int(m[1]), loss="ce", name=name, **_pgd_options(o))


@register_attack(
    "cw{steps}-{k}",
    r"cw(\d+)-(\d+)",
    example="cw5-16",
    description="L∞ PGD on the CW margin (κ = 50), step ε/10, restarts (ours)",
)
def _pgd_cw(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return PGDAttack(_linf(m[2], name), int(m[1]), loss="cw", name=name, **_pgd_options(o))


@register_attack(
    "l2pgd{steps}-{eps}",
    r"l2pgd(\d+)-(\d*\.?\d+)",
    example="l2pgd5-0.5",
    description="L2 PGD on CE, radius eps (e.g. l2pgd20-0.5), restarts (ours)",
)
def _l2pgd(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return PGDAttack(float(m[2]), int(m[1]), norm="l2", name=name, **_pgd_options(o))


@register_attack(
    "adaptive{steps}-{k}",
    r"adaptive(\d+)-(\d+)",
    example="adaptive3-16",
    description="smoothed-label PGD, worst case over γ ∈ {0, …, 1} (ours)",
)
def _adaptive(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return AdaptiveSmoothedPGD(_linf(m[2], name), int(m[1]), name=name, **_pgd_options(o))


@register_attack(
    "rs{samples}-{k}",
    r"rs(\d+)-(\d+)",
    example="rs64-16",
    description="random search, n random corners of the ε-ball (ours)",
)
def _random_search(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    return _named(RandomSearch(_linf(m[2], name), int(m[1])), name)


@register_attack(
    "autoattack-{k}",
    r"autoattack-(\d+)",
    example="autoattack-16",
    description="AutoAttack standard: APGD-CE, APGD-T, FAB-T, Square (pyautoattack)",
)
def _autoattack(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    eps = _linf(m[1], name)
    from entrobust.attacks.autoattack import AutoAttack  # imports pyautoattack only when used

    return _named(AutoAttack(eps, version="standard", seed=o.seed), name)


@register_attack(
    "autoattack-rand-{k}",
    r"autoattack-rand-(\d+)",
    example="autoattack-rand-16",
    description="AutoAttack for randomized defenses: APGD-CE/DLR with EOT (pyautoattack)",
)
def _autoattack_rand(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    eps = _linf(m[1], name)
    from entrobust.attacks.autoattack import AutoAttack

    return _named(AutoAttack(eps, version="rand", seed=o.seed), name)


@register_attack(
    "ta-autoattack-{k}",
    r"ta-autoattack-(\d+)",
    example="ta-autoattack-16",
    description="torchattacks' cheaper AutoAttack (not comparable)",
)
def _ta_autoattack(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    eps = _linf(m[1], name)
    from entrobust.attacks.autoattack import TorchattacksAutoAttack

    return _named(TorchattacksAutoAttack(eps, seed=o.seed), name)


@register_attack(
    "art-pgd{steps}-{k}",
    r"art-pgd(\d+)-(\d+)",
    example="art-pgd5-16",
    description="ART's PGD (cross-check)",
)
def _art_pgd(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    eps = _linf(m[2], name)
    from entrobust.attacks.art_pgd import ARTPGD  # imports ART only when used

    return _named(ARTPGD(eps, int(m[1])), name)


@register_attack(
    "min-l2",
    r"min-l2",
    example="min-l2",
    description="minimal L2 distortion until misclassification (FAB-L2 + bisection)",
)
def _min_l2(m: re.Match[str], name: str, o: AttackOptions) -> Attack:
    from entrobust.attacks.min_l2 import MinimalL2

    return _named(MinimalL2(), name)


#: The accepted forms, for error messages and ``entrobust list`` (derived from the registry).
ATTACK_FORMS: tuple[str, ...] = tuple(_FORMS)


def get_attack(name: str, options: AttackOptions | None = None) -> Attack:
    """Build the attack ``name`` (ε = k/255), e.g. ``pgd40-8`` or ``cw40-16``.

    Example:
        >>> atk = get_attack("pgd40-8")
        >>> atk.steps, atk.restarts, round(atk.eps * 255), round(atk.step_size * 2550)
        (40, 5, 8, 8)
        >>> get_attack("pgd10-800")
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: attack 'pgd10-800': ε = 800/255 > 1; ...
    """
    o = options or AttackOptions()
    key = name.strip().lower()
    for entry in _FORMS.values():
        m = entry.pattern.fullmatch(key)
        if m:
            attack = check_attack(
                entry.factory(m, key, o)
            )  # zero strength or absurd steps: refused
            if not hasattr(attack, "seed"):  # the seed its caller seeds the RNG with
                attack.seed = o.seed
            return attack
    raise UnknownNameError(
        f"unknown attack '{name}'; valid forms (k in ε = k/255): {', '.join(_FORMS)}"
    )
