"""Typed argparse converters: fractions like ``8/255``, comma lists, bounded numbers, paths.

Every option is checked here, at parse time, before any data is read or model trained: a bad
value is one ``entrobust <cmd>: error: argument --x: ...`` line and exit status 2.

Example:
    >>> round(fraction("8/255"), 6)
    0.031373
    >>> int_list("60,84,100")
    (60, 84, 100)
    >>> name_list("pat, pat-entm")
    ('pat', 'pat-entm')
    >>> name_list("PGD10-8,pgd10-8,clean")
    ('PGD10-8', 'clean')
    >>> decay_factor("1.5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must lie in (0, 1], got 1.5
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

#: Seeds are what every RNG accepts: 0 .. 2**31 - 1.
MAX_SEED = 2**31 - 1
#: Steps, epochs and restarts beyond this are a typo, not an experiment.
MAX_STEPS = 100_000
#: The largest integer a size option takes (batch, subset sizes).
MAX_INT = 2**31 - 1
#: The longest dataset (or other) name; run directories embed it.
MAX_NAME = 100
#: The longest path component most file systems store (bytes).
MAX_COMPONENT = 255


def _number(text: str) -> float:
    try:
        value = float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A finite number written as a float (``0.0314``) or a fraction (``8/255``)."""
    return _number(text)


def eps_fraction(text: str) -> float:
    """A perturbation budget ε as a fraction of the [0, 1] pixel range, in (0, 1]: ``8/255``
    or ``0.0314``. A pixel count such as ``8`` is refused with the fraction it likely meant.

    Example:
        >>> eps_fraction("8/255") == 8 / 255, eps_fraction("0.0314")
        (True, 0.0314)
        >>> eps_fraction("8")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: ε is a fraction of the [0, 1] pixel range, so 8 is too large; did you mean 8/255?
    """
    value = _number(text)
    if value > 1:
        hint = f"did you mean {text.strip()}/255?" if value <= 255 else "e.g. 8/255"
        raise argparse.ArgumentTypeError(
            f"ε is a fraction of the [0, 1] pixel range, so {text.strip()} is too large; {hint}"
        )
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"ε must be > 0 (a fraction of the pixel range, e.g. 8/255), got {text.strip()}"
        )
    return value


def eps_text(eps: float) -> str:
    """ε for display: ``k/255`` when it is one (to 1e-6), else the number.

    Example:
        >>> eps_text(8 / 255), eps_text(0.0314)
        ('8/255', '0.0314')
    """
    k = round(eps * 255)
    return f"{k}/255" if k and abs(eps * 255 - k) < 1e-6 else f"{eps:g}"


def finite_float(text: str) -> float:
    """Any finite number (``nan`` and ``inf`` are refused)."""
    return _number(text)


def nonneg_float(text: str) -> float:
    """A finite number ≥ 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1]."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def decay_factor(text: str) -> float:
    """A learning-rate decay factor in (0, 1]."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def momentum(text: str) -> float:
    """SGD momentum in [0, 1)."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def int_range(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """A converter for integers in ``[low, high]``."""

    def convert(text: str) -> int:
        value = _integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{what + ' ' if what else ''}must lie in [{low}, {high}], got {value}"
            )
        return value

    convert.__name__ = f"int[{low},{high}]"
    return convert


def positive_int(text: str) -> int:
    """An integer ≥ 1 (and ≤ 2**31 − 1)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"must be ≤ {MAX_INT}, got {value}")
    return value


def steps_int(text: str) -> int:
    """A count of steps, epochs or restarts: 1 .. :data:`MAX_STEPS`."""
    value = positive_int(text)
    if value > MAX_STEPS:
        raise argparse.ArgumentTypeError(
            f"{value} is beyond any experiment (at most {MAX_STEPS}); check for a typo"
        )
    return value


def seed(text: str) -> int:
    """A seed: 0 .. 2**31 − 1."""
    return int_range(0, MAX_SEED, "a seed")(text)


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers; the empty string is the empty tuple."""
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None


def int_list_in(low: int, high: int, what: str = "values") -> Callable[[str], tuple[int, ...]]:
    """A converter for non-empty comma lists of integers in ``[low, high]``."""

    def convert(text: str) -> tuple[int, ...]:
        values = int_list(text)
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one of the {what}")
        bad = [v for v in values if not low <= v <= high]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{what} must lie in [{low}, {high}]; got {', '.join(map(str, bad))}"
            )
        return values

    return convert


def seed_list(text: str) -> tuple[int, ...]:
    """Non-empty comma list of seeds, duplicates dropped (``--seeds ""`` is refused).

    Example:
        >>> seed_list("0,1,1")
        (0, 1)
    """
    return tuple(dict.fromkeys(int_list_in(0, MAX_SEED, "seeds")(text)))


def float_list_in(
    low: float, high: float, what: str = "values"
) -> Callable[[str], tuple[float, ...]]:
    """A converter for non-empty comma lists of finite numbers in ``[low, high]``."""

    def convert(text: str) -> tuple[float, ...]:
        values = tuple(_number(t) for t in text.split(",") if t.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one of the {what}")
        bad = [v for v in values if not low <= v <= high]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{what} must lie in [{low:g}, {high:g}]; got {', '.join(f'{v:g}' for v in bad)}"
            )
        return values

    return convert


def float_list(text: str) -> tuple[float, ...]:
    """Comma-separated finite numbers ≥ 0 (fractions allowed), e.g. ``0,0.5,1,2``.

    Example:
        >>> float_list("0,1/2,2")
        (0.0, 0.5, 2.0)
    """
    return float_list_in(0.0, 1e6, "numbers")(text)


#: A grid of ε's written as k in ε = k/255 (``--ks``, ``--eps-list``, ``--cascade-eps``).
k_list = int_list_in(1, 255, "k in ε = k/255")
#: Step counts (``--steps``).
steps_list = int_list_in(1, MAX_STEPS, "step counts")
#: Test-set indices (``--index``).
index_list = int_list_in(0, 2**31 - 1, "test-set indices")
#: ``--adp-members``: ensemble size.
ensemble_size = int_range(2, 100, "ensemble members")


def name_list(text: str) -> tuple[str, ...]:
    """Comma-separated names, whitespace stripped, empties dropped; a name repeated in any
    case is kept once (its first spelling)."""
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected at least one name")
    too_long = [n for n in names if len(n) > MAX_NAME]
    if too_long:
        raise argparse.ArgumentTypeError(
            f"a name of {len(too_long[0])} characters is longer than {MAX_NAME}"
        )
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault(n.lower(), n)
    return tuple(seen.values())


def plain_name(text: str) -> str:
    """A dataset (or other) name: 1 .. :data:`MAX_NAME` characters, no path separators."""
    name = text.strip()
    if not name or len(name) > MAX_NAME:
        raise argparse.ArgumentTypeError(f"must have 1 to {MAX_NAME} characters, got {len(name)}")
    if name in (".", "..") or "/" in name or "\\" in name or os.sep in name:
        raise argparse.ArgumentTypeError(f"must be a plain name (no path), got {text!r}")
    return name


def _check_path(text: str) -> Path:
    if not text or "\x00" in text:
        raise argparse.ArgumentTypeError(f"not a path: {text!r}")
    path = Path(text).expanduser()
    long = [p for p in path.parts if len(os.fsencode(p)) > MAX_COMPONENT]
    if long:
        raise argparse.ArgumentTypeError(
            f"path component of {len(os.fsencode(long[0]))} bytes is longer than the "
            f"{MAX_COMPONENT} a file system stores: {long[0][:40]}…"
        )
    if len(os.fsencode(str(path))) > 4000:
        raise argparse.ArgumentTypeError("path is longer than 4000 bytes")
    return path


def path_arg(text: str) -> str:
    """A path that a file system can hold (no component over 255 bytes)."""
    return str(_check_path(text))


def path_list(text: str) -> tuple[str, ...]:
    """Comma-separated paths, exact duplicates dropped."""
    paths = tuple(dict.fromkeys(path_arg(t.strip()) for t in text.split(",") if t.strip()))
    if not paths:
        raise argparse.ArgumentTypeError("expected at least one path")
    return paths


def dir_arg(text: str) -> str:
    """A directory to read or write: it, or the first of its parents that exists, must be a
    directory (``--out results.csv`` is refused)."""
    path = _check_path(text)
    for p in (path, *path.parents):
        try:
            exists = p.exists()
        except OSError:
            continue
        if exists:
            if not p.is_dir():
                what = "is" if p == path else f"is inside {p}, which is"
                raise argparse.ArgumentTypeError(f"{path} {what} a file, not a directory")
            break
    return str(path)


def device_arg(text: str) -> str:
    """A device this machine has: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (N < count), ``mps``
    on a Mac with Metal."""
    from entrobust.device import check_device
    from entrobust.errors import InvalidValueError

    try:
        return check_device(text.strip())
    except InvalidValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
