"""Attacks by name, in the paper's notation: ε = k/255 and step ε/10 unless stated.

==========================  ==========================================================  =========
name                        attack                                                      source
==========================  ==========================================================  =========
``clean``                   no attack                                                   —
``fgsm{k}``                 FGSM, ε = k/255                                             ours
``pgd{p}-{k}``              p-step L∞ PGD on CE, ε = k/255, step ε/10, restarts         ours
``cw{p}-{k}``               p-step L∞ PGD on the CW margin (κ = 50), step ε/10          ours
``l2pgd{p}-{e}``            p-step L2 PGD on CE, radius e (e.g. ``l2pgd20-0.5``)        ours
``adaptive{p}-{k}``         smoothed-label PGD, worst case over γ ∈ {0, …, 1}           ours
``rs{n}-{k}``               random search, n random corners of the ε-ball               ours
``autoattack-{k}``          AutoAttack standard (APGD-CE, APGD-T, FAB-T, Square)        pyautoattack
``autoattack-rand-{k}``     AutoAttack for randomized defenses (APGD-CE/DLR with EOT)   pyautoattack
``ta-autoattack-{k}``       torchattacks' cheaper AutoAttack (not comparable)           torchattacks
``art-pgd{p}-{k}``          ART's PGD (cross-check)                                     ART
``min-l2``                  minimal L2 distortion until misclassification               see min_l2
==========================  ==========================================================  =========
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
    random_samples: int = 10_000


def _linf(k: str, name: str) -> float:
    value = int(k)
    if value > 255:
        raise InvalidValueError(
            f"attack '{name}': ε = {value}/255 > 1; the number after the dash is k in ε = k/255 "
            "(e.g. pgd10-8 is ε = 8/255)"
        )
    return value / 255


def _pgd(o: AttackOptions, loss: str) -> Callable[[re.Match, str], Attack]:
    def make(m: re.Match, name: str) -> Attack:
        return PGDAttack(
            _linf(m[2], name),
            int(m[1]),
            loss=loss,
            restarts=o.restarts,
            init=o.init,
            init_std=o.init_std,
            early_exit=o.early_exit,
            name=name,
        )

    return make


def _named(attack: Attack, name: str) -> Attack:
    attack.name = name
    return attack


def _autoattack(eps: float, name: str, o: AttackOptions, version: str) -> Attack:
    from entrobust.attacks.autoattack import AutoAttack  # imports pyautoattack only when used

    return _named(AutoAttack(eps, version=version, seed=o.seed), name)


def _ta_autoattack(eps: float, name: str, o: AttackOptions) -> Attack:
    from entrobust.attacks.autoattack import TorchattacksAutoAttack

    return _named(TorchattacksAutoAttack(eps, seed=o.seed), name)


def _art_pgd(eps: float, steps: int, name: str) -> Attack:
    from entrobust.attacks.art_pgd import ARTPGD  # imports ART only when used

    return _named(ARTPGD(eps, steps), name)


def _min_l2(name: str) -> Attack:
    from entrobust.attacks.min_l2 import MinimalL2

    return _named(MinimalL2(), name)


def _patterns(o: AttackOptions) -> dict[str, Callable[[re.Match, str], Attack]]:

    return {
        r"clean": lambda m, n: NoAttack(),
        r"fgsm(\d+)": lambda m, n: fgsm(_linf(m[1], n), name=n),
        r"pgd(\d+)-(\d+)": _pgd(o, "ce"),
        r"cw(\d+)-(\d+)": _pgd(o, "cw"),
        r"l2pgd(\d+)-(\d*\.?\d+)": lambda m, n: PGDAttack(
            float(m[2]),
            int(m[1]),
            norm="l2",
            restarts=o.restarts,
            init=o.init,
            init_std=o.init_std,
            early_exit=o.early_exit,
            name=n,
        ),
        r"adaptive(\d+)-(\d+)": lambda m, n: AdaptiveSmoothedPGD(
            _linf(m[2], n),
            int(m[1]),
            restarts=o.restarts,
            init=o.init,
            init_std=o.init_std,
            early_exit=o.early_exit,
            name=n,
        ),
        r"rs(\d+)-(\d+)": lambda m, n: _named(RandomSearch(_linf(m[2], n), int(m[1])), n),
        r"autoattack-(\d+)": lambda m, n: _autoattack(_linf(m[1], n), n, o, "standard"),
        r"autoattack-rand-(\d+)": lambda m, n: _autoattack(_linf(m[1], n), n, o, "rand"),
        r"ta-autoattack-(\d+)": lambda m, n: _ta_autoattack(_linf(m[1], n), n, o),
        r"art-pgd(\d+)-(\d+)": lambda m, n: _art_pgd(_linf(m[2], n), int(m[1]), n),
        r"min-l2": lambda m, n: _min_l2(n),
    }


#: Human-readable forms of the accepted names, for error messages and ``entrobust list``.
ATTACK_FORMS = (
    "clean",
    "fgsm{k}",
    "pgd{steps}-{k}",
    "cw{steps}-{k}",
    "l2pgd{steps}-{eps}",
    "adaptive{steps}-{k}",
    "rs{samples}-{k}",
    "autoattack-{k}",
    "autoattack-rand-{k}",
    "ta-autoattack-{k}",
    "art-pgd{steps}-{k}",
    "min-l2",
)


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
    for pattern, make in _patterns(o).items():
        m = re.fullmatch(pattern, key)
        if m:
            attack = check_attack(make(m, key))  # zero strength or absurd steps: refused
            if not hasattr(attack, "seed"):  # the seed its caller seeds the RNG with
                attack.seed = o.seed
            return attack
    raise UnknownNameError(
        f"unknown attack '{name}'; valid forms (k in ε = k/255): {', '.join(ATTACK_FORMS)}"
    )
