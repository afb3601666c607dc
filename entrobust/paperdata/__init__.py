"""The paper's printed numbers (``results.csv``, Tables 4, 5, 10) and its known discrepancies.

Copied verbatim from ``shared/paper/tables``; ``discrepancies.csv`` summarises
``shared/paper/discrepancies.md`` so reports can show, not hide, where the paper disagrees
with itself.

Example:
    >>> df = paper_results()
    >>> sorted(df["table"].unique().tolist())[:3]
    [1, 2, 3]
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd


def _read(name: str) -> pd.DataFrame:
    with files(__package__).joinpath(name).open("r") as f:
        return pd.read_csv(f)


def paper_results() -> pd.DataFrame:
    """Tables 1–3, 6–9, 11–13: ``table, dataset, arch, mode, attack, defense, value`` (%)."""
    return _read("results.csv")


def paper_table(name: str) -> pd.DataFrame:
    """``table4``, ``table5`` or ``table10`` as printed."""
    return _read(f"{name}.csv")


def discrepancies() -> pd.DataFrame:
    """Cells where the paper's own tables disagree (one row per printed cell)."""
    return _read("discrepancies.csv")
