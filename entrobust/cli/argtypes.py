"""Typed argparse converters: fractions like ``8/255``, comma lists, bounded numbers.

Example:
    >>> round(fraction("8/255"), 6)
    0.031373
    >>> int_list("60,84,100")
    (60, 84, 100)
    >>> name_list("pat, pat-entm")
    ('pat', 'pat-entm')
"""

from __future__ import annotations

import argparse
from fractions import Fraction


def fraction(text: str) -> float:
    """A number written as a float (``0.0314``) or a fraction (``8/255``)."""
    try:
        return float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from None


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers; the empty string is the empty tuple."""
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None


def name_list(text: str) -> tuple[str, ...]:
    """Comma-separated names, whitespace stripped, empties dropped."""
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected at least one name")
    return names


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value
