"""``entrobust.evaluate`` (defined here): any model, any data, one call, one DataFrame with the worst case.

The call a researcher makes on their own model::

    import entrobust
    df = entrobust.evaluate(model, (x_test, y_test), eps=8/255)

runs the paper's strong set at that ε (PGD40 and CW40 on every point, then the smoothed-label
adaptive attack and AutoAttack as a cascade on the points still robust) and returns one row
per attack plus one ``worst-case`` row per ε: the fraction of points robust to *every* attack
at that ε, computed exactly from the per-point flags of
:func:`entrobust.evaluation.robust_flags` (never a minimum of percentages, which overstates
robustness whenever two attacks break different points).

Example:
    >>> import torch
    >>> from torch import nn
    >>> import entrobust
    >>> torch.manual_seed(0) and None
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    >>> x, y = torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,))
    >>> df = entrobust.evaluate(model, (x, y), attacks=["fgsm8", "pgd10-8"], progress=False)
    >>> list(df["attack"])
    ['clean', 'fgsm8', 'pgd10-8', 'worst-case']
    >>> worst = df.set_index("attack").loc["worst-case", "accuracy"]
    >>> bool(worst <= df["accuracy"][1:3].min())
    True
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from entrobust.attacks.base import Attack
from entrobust.attacks.registry import AttackOptions, get_attack
from entrobust.attacks.threat import check_linf_eps
from entrobust.attacks.torchattacks_adapter import as_attack
from entrobust.device import resolve_device
from entrobust.errors import InvalidValueError
from entrobust.evaluation import robust_flags

#: The paper's strong set at ε = k/255: run on every point ...
STRONG = ("pgd40-{k}", "cw40-{k}")
#: ... then, as the cascade (on the points still robust), the strongest attacks we have.
STRONG_CASCADE = ("adaptive40-{k}", "autoattack-{k}")

#: Names that take the ε of ``eps=`` when given without one (``pgd40`` → ``pgd40-8``).
_NEEDS_K = re.compile(r"(?:(?:pgd|cw|adaptive|rs|art-pgd)\d+|autoattack|autoattack-rand|fgsm)")

AttackLike = str | Attack | Any


def _k_of(eps: float) -> int:
    k = round(eps * 255)
    if k < 1 or not math.isclose(k / 255, eps, abs_tol=1e-6):
        raise InvalidValueError(
            f"eps = {eps:g} is not k/255 for a whole k ≥ 1; name the attacks instead "
            "(e.g. attacks=['pgd40-8']) or give eps as k/255"
        )
    return k


def _attack(obj: AttackLike, k: int | None, options: AttackOptions) -> Attack:
    """A name (with ``-k`` added when ``eps=`` was given and the name has none), an entrobust
    Attack, or a torchattacks object."""
    if isinstance(obj, str):
        name = obj.strip().lower()
        if k is not None and _NEEDS_K.fullmatch(name):
            name = f"{name}{k}" if name == "fgsm" else f"{name}-{k}"
        return get_attack(name, options)
    return as_attack(obj)


def _tensors(data: Any, batch_size: int) -> tuple[Tensor, Tensor]:
    """``(x, y)`` from a pair of tensors, a Dataset or a DataLoader (all on the CPU)."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor):
        x, y = data
    elif isinstance(data, (DataLoader, Dataset)):
        loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
        xs, ys = [], []
        for batch in loader:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise InvalidValueError(
                    f"each batch of the data must be (images, labels); got {type(batch).__name__}"
                )
            xs.append(torch.as_tensor(batch[0]).cpu())
            ys.append(torch.as_tensor(batch[1]).cpu())
        if not xs:
            raise InvalidValueError("the data is empty: nothing to evaluate")
        x, y = torch.cat(xs), torch.cat(ys)
    else:
        raise InvalidValueError(
            f"data must be (x, y) tensors, a torch Dataset or a DataLoader; got "
            f"{type(data).__name__}"
        )
    y = torch.as_tensor(y).long().reshape(-1)
    if len(x) != len(y):
        raise InvalidValueError(f"{len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise InvalidValueError("the data is empty: nothing to evaluate")
    if x.dtype != torch.uint8:
        x = x.float()
        lo, hi = x.min().item(), x.max().item()
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InvalidValueError(
                f"images must be in [0, 1] (got values in [{lo:.3g}, {hi:.3g}]); pass raw "
                "images and normalize inside the model (e.g. a first layer that subtracts the "
                "mean), so that ε is measured in pixels"
            )
    return x, y


def _eps_key(attack: Attack) -> tuple[str, float] | None:
    """The threat model an attack's flags count towards (None for clean and minimal attacks)."""
    eps = float(getattr(attack, "eps", math.inf))
    if not math.isfinite(eps) or eps <= 0:
        return None
    return (attack.norm, round(eps, 9))


def _default_cascade(attacks: Sequence[Attack], options: AttackOptions) -> list[Attack]:
    """The bench's cascade: adaptive (as many steps as the longest PGD, else 40) and AutoAttack
    at every L∞ ε = k/255 the attacks evaluate."""
    steps = max(
        (int(m[1]) for a in attacks if (m := re.fullmatch(r"pgd(\d+)-\d+", a.name))),
        default=40,
    )
    ks = []
    for a in attacks:
        key = _eps_key(a)
        if key and key[0] == "linf" and math.isclose(round(key[1] * 255), key[1] * 255):
            ks.append(round(key[1] * 255))
    names = [
        f"{form}-{k}" for k in dict.fromkeys(ks) for form in (f"adaptive{steps}", "autoattack")
    ]
    present = {a.name for a in attacks}
    return [get_attack(n, options) for n in names if n not in present]


def evaluate(
    model: nn.Module,
    data: Any,
    attacks: Iterable[AttackLike] | None = None,
    eps: float | None = None,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: bool = True,
    seed: int = 0,
    cascade: bool | Iterable[AttackLike] | None = None,
    options: AttackOptions | None = None,
) -> Any:
    """Robust accuracy of ``model`` under each attack, and the exact worst case per ε.

    Args:
        model: any ``nn.Module`` that takes images in [0, 1] and returns logits (normalize
            inside it). Evaluated in eval mode; its mode and gradients are left as they were.
        data: ``(x, y)`` tensors, a torch ``Dataset`` or a ``DataLoader`` yielding
            ``(images, labels)``; images float in [0, 1] (or uint8).
        attacks: names in the paper's notation (``"pgd40-8"``, ``"cw40-8"``,
            ``"autoattack-8"``; see ``entrobust list``), entrobust
            :class:`~entrobust.attacks.Attack` objects or torchattacks objects built on
            ``model``. With ``eps`` given, a name without its ε takes it (``"pgd40"``).
            Default: the paper's strong set at ``eps`` (PGD40, CW40, and the adaptive attack and
            AutoAttack as the cascade).
        eps: the L∞ radius as a fraction of the pixel range (``8/255``, not ``8``).
        batch_size: images per attack call.
        device: run on this device (``"cuda"``, ``"cpu"``, ``"auto"``); the model is moved
            there. Default: where the model is.
        progress: show each attack's batches (a bar on a terminal, a few log lines otherwise).
        seed: every attack runs on a private RNG stream seeded with this (your RNG state is
            left as it was), so the same call gives the same numbers.
        cascade: attacks tried only on the points still robust to every attack at their ε
            (cheap: strong attacks see the few survivors). ``True``: the bench's cascade, the
            smoothed-label adaptive attack then AutoAttack at each L∞ ε of ``attacks``. Default:
            ``True`` for the default strong set, none otherwise.
        options: restarts, start rule and AutoAttack's seed of named attacks (the paper's
            defaults: 5 restarts, Gaussian start).

    Returns:
        A pandas DataFrame, one row per attack in order (``clean`` first), then the cascade
        rows, then one ``worst-case`` row per ε, with columns ``attack``, ``mode``
        (``white-box``, ``cascade`` or ``worst-case``), ``eps`` (a fraction; NaN for clean),
        ``k`` (ε = k/255 for L∞, else NaN), ``norm``, ``accuracy`` (a fraction), ``n`` (points
        the attack ran on), ``seconds``, ``attacks`` (what a worst case is taken over). A
        cascade row's ``accuracy`` is the worst case at its ε after adding it, over all points.

    Raises:
        InvalidValueError: ``eps`` outside [0, 1] (given as 8 instead of 8/255), neither
            ``attacks`` nor ``eps``, images outside [0, 1], an unknown attack name, a
            torchattacks object built on another model.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        >>> x, y = torch.rand(16, 1, 4, 4), torch.randint(0, 3, (16,))
        >>> evaluate(model, (x, y), eps=8)
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: eps = 8 is outside [0, 1]; images are in [0, 1], so give it as a fraction of the pixel range, e.g. 8/255 = 0.03137
        >>> df = evaluate(model, (x, y), attacks=["pgd10"], eps=4/255, progress=False)
        >>> df[["attack", "k", "n"]].values.tolist()
        [['clean', nan, 16], ['pgd10-4', 4.0, 16], ['worst-case', 4.0, 16]]
    """
    import pandas as pd

    if batch_size < 1:
        raise InvalidValueError(f"batch_size must be ≥ 1, got {batch_size}")
    k = None
    if eps is not None:
        k = _k_of(check_linf_eps(float(eps), "eps"))
    if attacks is None and k is None:
        raise InvalidValueError(
            "give attacks (e.g. attacks=['pgd40-8', 'cw40-8']) or eps (e.g. eps=8/255 for the "
            "paper's strong set)"
        )
    if isinstance(attacks, str):
        raise InvalidValueError("attacks must be a list of names or attacks, e.g. ['pgd40-8']")
    options = options or AttackOptions(seed=seed)
    if attacks is None:
        attack_list = [get_attack(f.format(k=k), options) for f in STRONG]
        if cascade is None:
            cascade = True
        if cascade is False:
            attack_list += [get_attack(f.format(k=k), options) for f in STRONG_CASCADE]
    else:
        attack_list = [_attack(a, k, options) for a in attacks]
    if cascade is True:
        cascade_list = _default_cascade(attack_list, options)
    elif cascade:
        cascade_list = [_attack(a, k, options) for a in cascade]  # type: ignore[union-attr]
    else:
        cascade_list = []
    if device is not None:
        model.to(resolve_device(str(device)))
    x, y = _tensors(data, batch_size)
    names = [a.name for a in attack_list]
    if "clean" not in names:
        attack_list.insert(0, get_attack("clean"))

    rows: list[dict[str, Any]] = []
    survivors: dict[tuple[str, float], Tensor] = {}  # per ε: robust to every attack so far
    names_at: dict[tuple[str, float], list[str]] = {}
    for attack in attack_list:
        t0 = time.perf_counter()
        flags = robust_flags(
            model, attack, x, y, batch_size, seed=seed, progress=progress and attack.name != "clean"
        )
        key = _eps_key(attack)
        if key is not None:
            survivors[key] = flags if key not in survivors else survivors[key] & flags
            names_at.setdefault(key, []).append(attack.name)
        rows.append(_row(attack, "white-box", flags.float().mean().item(), len(x), t0))
    for attack in cascade_list:
        key = _eps_key(attack)
        if key is None:
            raise InvalidValueError(f"cascade attack {attack.name} has no ε to cascade at")
        mask = survivors.get(key)
        if mask is None:  # no attack at that ε yet: the clean-correct points
            mask = robust_flags(model, get_attack("clean"), x, y, batch_size)
        t0 = time.perf_counter()
        idx = mask.nonzero().flatten()
        new = mask.clone()
        if len(idx):
            sub = robust_flags(
                model, attack, x[idx], y[idx], batch_size, seed=seed, progress=progress
            )
            new[idx] = sub
        survivors[key] = new
        names_at.setdefault(key, []).append(attack.name)
        rows.append(_row(attack, "cascade", new.float().mean().item(), len(idx), t0))
    for (norm, e), mask in survivors.items():
        rows.append(
            {
                "attack": "worst-case",
                "mode": "worst-case",
                "eps": e,
                "k": _k(norm, e),
                "norm": norm,
                "accuracy": mask.float().mean().item(),
                "n": len(mask),
                "seconds": 0.0,
                "attacks": ",".join(names_at[(norm, e)]),
            }
        )
    return pd.DataFrame(
        rows, columns=["attack", "mode", "eps", "k", "norm", "accuracy", "n", "seconds", "attacks"]
    )


def _k(norm: str, eps: float) -> float:
    k = eps * 255
    return (
        float(round(k)) if norm == "linf" and math.isclose(k, round(k), abs_tol=1e-6) else math.nan
    )


def _row(attack: Attack, mode: str, acc: float, n: int, t0: float) -> dict[str, Any]:
    key = _eps_key(attack)
    return {
        "attack": attack.name,
        "mode": mode,
        "eps": key[1] if key else math.nan,
        "k": _k(*key) if key else math.nan,
        "norm": attack.norm if key else "",
        "accuracy": acc,
        "n": n,
        "seconds": round(time.perf_counter() - t0, 3),
        "attacks": attack.name,
    }


__all__ = ["STRONG", "STRONG_CASCADE", "evaluate"]
