"""A verdict on every quantitative claim of the paper, under its attack and under the worst case.

:func:`evaluate_claims` checks the claims of ``entrobust/paperdata/claims.json`` (see
:mod:`entrobust.bench.claimdata`) against our tables. Each claim gets two statuses:

* **under the paper's attack** — the cells the claim names (e.g. white-box PGD40-16; an attack
  the grid runs only in its cascade, like ``cascade adaptive40-16``, is read from that row —
  the worst case up to that attack, shown with its label);
* **under the worst case** — the same comparison with every attack row replaced by the
  worst-case row at its ε (:func:`entrobust.bench.grid.worst_row`); rows without an ε (clean)
  keep their value. Claims that compare two attacks with each other get ``N/A`` here.

A status is ``HOLDS``, ``FAILS`` or ``NOT RUN`` (a needed cell is missing), with the numbers
that decided it. On datasets the paper does not cover (``digits``, an npz) only the direction
of each claim is checked (thresholds become 0) and the verdict is labelled *qualitative*; the
paper's ε maps to the dataset by its ratio to the training ε (CIFAR/SVHN train at 8/255,
MNIST at 48/255, so CIFAR's 16/255 is digits' 64/255 when digits trains at 32/255).

Example:
    >>> verdicts = evaluate_claims(1, paper_tables(1))
    >>> v = next(v for v in verdicts if v.claim.id == "5.2.2-pgd40-16-gain")
    >>> v.paper.status, v.paper.text()
    ('HOLDS', 'PAT-EntM 19.56 − PAT 10.26 = +9.30 ≥ 8.5')
    >>> v.worst.status
    'NOT RUN'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from entrobust.atomic import write_json
from entrobust.bench.claimdata import (
    _SYMBOL,
    PAPER_TRAIN_K,
    Check,
    Claim,
    display,
    load_claims,
    row_k,
    with_k,
)
from entrobust.bench.grid import CASCADE, WHITE, Row, worst_row
from entrobust.bench.table import Table, build_table
from entrobust.errors import EntrobustError, InvalidValueError

HOLDS, FAILS, NOT_RUN, NOT_APPLICABLE = "HOLDS", "FAILS", "NOT RUN", "N/A"
#: Tables whose claims are about another architecture (WRN-34-10): with ``table=None`` they
#: are left out, since a bench grid is the dataset's default architecture.
WIDE_TABLES = frozenset({11})


@dataclass(frozen=True)
class Comparison:
    """One row of a check: ``left − right`` and whether it satisfies the check."""

    row: Row
    right_row: Row | None
    left: float
    right: float
    diff: float
    ok: bool


@dataclass(frozen=True)
class CheckResult:
    """A check evaluated on one table (rows resolved, ε mapped)."""

    check: Check
    status: str
    comparisons: tuple[Comparison, ...] = ()
    missing: tuple[str, ...] = ()

    def text(self, full: bool = False) -> str:
        """The numbers that decided the check, e.g. ``PAT-EntM 19.56 − PAT 10.26 = +9.30 ≥ 8.5``.

        Args:
            full: List every row (by default a check over more than 4 rows lists only the
                rows that broke it).
        """
        c = self.check
        if self.status == NOT_RUN:
            shown = ", ".join(self.missing[:3])
            more = f" (+{len(self.missing) - 3} more)" if len(self.missing) > 3 else ""
            return f"{'' if self.missing[0].startswith('no ') else 'missing '}{shown}{more}"
        rel = f"{_SYMBOL[c.op]} {c.threshold:g}"
        if len(self.comparisons) == 1 and c.quantifier == "all":
            x = self.comparisons[0]
            where = "" if x.row in c.rows else f" [{x.row.label}]"  # a glob or cascade row
            return _one(c, x) + where + ("" if x.ok else " ✗")
        right = display(c.right) if isinstance(c.right, str) else f"{c.right:g}"
        n, good = len(self.comparisons), sum(x.ok for x in self.comparisons)
        if c.right_rows is not None:
            head = f"{display(c.left)} row − paired row {rel} on {c.quantifier} rows ({good}/{n})"
        else:
            head = f"{display(c.left)} − {right} {rel} on {c.quantifier} rows ({good}/{n})"
        shown = [x for x in self.comparisons if full or n <= 4 or not x.ok]
        if not shown:
            return head
        return head + ": " + ", ".join(_row_diff(x) for x in shown)


def _label(row: Row) -> str:
    return row.attack if row.mode == WHITE else row.label


def _one(c: Check, x: Comparison) -> str:
    left = f"{display(c.left)} {x.left:.2f}"
    if x.right_row is not None and x.right_row != x.row:
        left = f"{display(c.left)} {_label(x.row)} {x.left:.2f}"
        right = f"{display(c.right)} {_label(x.right_row)} {x.right:.2f}"  # type: ignore[arg-type]
    elif isinstance(c.right, str):
        right = f"{display(c.right)} {x.right:.2f}"
    else:
        if c.threshold == 0 and c.op != "within":
            return f"{left} {_SYMBOL[c.op]} {x.right:g}"
        right = f"{x.right:g}"
    return f"{left} − {right} = {_signed(x.diff)} {_SYMBOL[c.op]} {c.threshold:g}"


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def _row_diff(x: Comparison) -> str:
    label = _label(x.row)
    if x.right_row is not None and x.right_row != x.row:
        label += f" vs {_label(x.right_row)}"
    return f"{label} {_signed(x.diff)}" + ("" if x.ok else " ✗")


@dataclass(frozen=True)
class Outcome:
    """The status of a claim under one kind of row (the paper's attack, or the worst case)."""

    status: str
    results: tuple[CheckResult, ...] = ()
    reason: str = ""

    def text(self, full: bool = False) -> str:
        """The deciding numbers: every check when it holds, else the checks that decided it."""
        if self.status == NOT_APPLICABLE:
            return self.reason
        decisive = [r for r in self.results if self.status == HOLDS or r.status == self.status]
        if self.status == NOT_RUN and not full:  # one line: which defenses × rows are missing
            missing = [m for r in decisive for m in r.missing]
            cells = [m.split(" @ ") for m in missing if " @ " in m]
            parts = [m for m in dict.fromkeys(missing) if " @ " not in m]
            if cells:
                defenses = ", ".join(dict.fromkeys(d for d, _ in cells))
                rows = ", ".join(dict.fromkeys(r for _, r in cells))
                parts.insert(0, f"no cell for {defenses} × {rows}")
            return "; ".join(parts)
        return "; ".join(dict.fromkeys(r.text(full) for r in decisive))


@dataclass(frozen=True)
class Verdict:
    """A claim judged on one dataset's table."""

    claim: Claim
    dataset: str
    table: int | None
    qualitative: bool
    paper: Outcome
    worst: Outcome
    left_out: tuple[str, ...] = ()
    """Checks of the claim not judged (``table=None`` only: their rows or defenses are not in
    the grid), so the verdict covers part of the claim."""


def _cmp(op: str, diff: float, threshold: float) -> bool:
    if op == ">=":
        return diff >= threshold
    if op == ">":
        return diff > threshold
    if op == "<=":
        return diff <= threshold
    if op == "<":
        return diff < threshold
    return abs(diff) <= threshold  # "within"


def _pairs(check: Check, table: Table) -> list[tuple[Row, Row | None]]:
    """The (left row, right row) pairs a check reads in ``table`` (globs expanded)."""
    pairs: list[tuple[Row, Row | None]] = []
    for i, sel in enumerate(check.rows):
        rows = _match(sel, table)
        if not rows and sel.mode == WHITE:  # the grid runs this attack in its cascade only
            rows = _match(Row(CASCADE, sel.attack), table)
        if not rows and "*" not in sel.attack:
            rows = [sel]  # reported as missing
        for r in rows:
            if check.right_rows is not None:
                pairs.append((r, check.right_rows[i]))
            else:
                pairs.append((r, r if isinstance(check.right, str) else None))
    return list(dict.fromkeys(pairs))


def _match(sel: Row, table: Table) -> list[Row]:
    return [r for r in table.rows if r.mode == sel.mode and fnmatchcase(r.attack, sel.attack)]


def _worst(row: Row | None) -> Row | None:
    if row is None:
        return None
    k = row.k
    return row if k is None else worst_row(k)


def _value(table: Table, row: Row, defense: str) -> float | None:
    cell = table.cell(row, defense)
    if cell is None or not cell.values:
        return None
    mean = cell.mean
    return mean if math.isfinite(mean) else None


def _evaluate(check: Check, table: Table, worst: bool) -> CheckResult:
    pairs = _pairs(check, table)
    if worst:
        pairs = list(dict.fromkeys((_worst(a), _worst(b)) for a, b in pairs))  # type: ignore[misc]
    if not pairs:
        return CheckResult(check, NOT_RUN, missing=tuple(f"no {r.label} row" for r in check.rows))
    comparisons, missing = [], []
    for row, right_row in pairs:
        left = _value(table, row, check.left)
        if left is None:
            missing.append(f"{display(check.left)} @ {row.label}")
        if right_row is None:
            right: float | None = float(check.right)  # type: ignore[arg-type]
        else:
            right = _value(table, right_row, check.right)  # type: ignore[arg-type]
            if right is None:
                missing.append(f"{display(check.right)} @ {right_row.label}")  # type: ignore[arg-type]
        if left is not None and right is not None:
            diff = round(left - right, 9)
            ok = _cmp(check.op, diff, check.threshold)
            comparisons.append(Comparison(row, right_row, left, right, diff, ok))
    if missing:
        return CheckResult(check, NOT_RUN, tuple(comparisons), tuple(dict.fromkeys(missing)))
    oks = [x.ok for x in comparisons]
    holds = {"all": all(oks), "any": any(oks), "most": 2 * sum(oks) > len(oks)}[check.quantifier]
    return CheckResult(check, HOLDS if holds else FAILS, tuple(comparisons))


def _outcome(checks: Sequence[Check], table: Table, worst: bool) -> Outcome:
    results = tuple(_evaluate(c, table, worst) for c in checks)
    statuses = {r.status for r in results}
    status = FAILS if FAILS in statuses else NOT_RUN if NOT_RUN in statuses else HOLDS
    return Outcome(status, results)


def _map_row(row: Row, factor: float) -> Row:
    k = row_k(row.attack)
    return row if k is None else Row(row.mode, with_k(row.attack, round(k * factor)))


def qualitative_checks(claim: Claim, train_k: int) -> list[Check]:
    """The claim's direction on a dataset the paper does not cover, trained at ε = k/255.

    Thresholds become 0 (``≥ t`` with ``t > 0`` becomes ``> 0``), ε's are scaled by
    ``train_k`` over the paper's training ε, checks marked non-qualitative (magnitude bounds,
    dataset-specific exceptions) are dropped, and ``all`` checks that then read the same
    comparison are merged into one over the union of their rows (an ``any`` check next to an
    ``all`` check of the same comparison is dropped).

    Example:
        >>> from entrobust.bench.claimdata import claim_by_id
        >>> [c.describe() for c in qualitative_checks(claim_by_id("5.2.2-pgd40-16-gain"), 32)]
        ['PAT-EntM − PAT > 0 under white-box pgd40-64']
    """
    merged: dict[tuple[Any, ...], Check] = {}
    for c in claim.checks:
        if not c.qualitative:
            continue
        factor = train_k / PAPER_TRAIN_K[c.datasets[0]]
        op = c.op
        if op == ">=" and c.threshold > 0:
            op = ">"
        elif op == "<=" and c.threshold < 0:
            op = "<"
        rows = tuple(_map_row(r, factor) for r in c.rows)
        right_rows = (
            None if c.right_rows is None else tuple(_map_row(r, factor) for r in c.right_rows)
        )
        q = replace(c, op=op, threshold=0.0, rows=rows, right_rows=right_rows, datasets=())
        key = (q.left, q.right, q.op, q.quantifier, q.right_rows)
        if q.quantifier == "all" and q.right_rows is None and key in merged:
            old = merged[key]
            merged[key] = replace(old, rows=tuple(dict.fromkeys(old.rows + q.rows)))
        else:
            merged.setdefault(key if q.quantifier == "all" else (*key, q.rows), q)
    checks = list(merged.values())
    # "any row > 0" adds nothing next to "every row > 0" of the same comparison
    alls = {(c.left, c.right, c.op) for c in checks if c.quantifier == "all" and not c.right_rows}
    return [c for c in checks if c.quantifier != "any" or (c.left, c.right, c.op) not in alls]


def _present(check: Check, table: Table) -> bool:
    """Whether ``table`` has every row and defense the check reads (for ``table=None``)."""
    if any(d not in table.defenses for d in check.defenses()):
        return False
    pairs = _pairs(check, table)
    rows = {r for pair in pairs for r in pair if r is not None}
    return bool(pairs) and rows <= set(table.rows)


def _train_k(name: str, train_k: Mapping[str, int] | None) -> int:
    if train_k and name in train_k:
        return int(train_k[name])
    from entrobust.data import get_dataset_spec

    try:
        return round(get_dataset_spec(name).at_eps * 255)
    except EntrobustError:
        raise InvalidValueError(
            f"dataset {name!r}: its training ε is unknown; pass train_k={{{name!r}: K}} "
            "(ε = K/255) to map the paper's ε's to it"
        ) from None


def evaluate_claims(
    table: int | None,
    tables: Mapping[str, Table],
    *,
    train_k: Mapping[str, int] | None = None,
    claims: Sequence[Claim] | None = None,
) -> list[Verdict]:
    """Judge the paper's claims on our tables, under the paper's attack and the worst case.

    Args:
        table: The paper's table being reproduced: only claims about it are judged. ``None``
            judges every claim (except the WRN-34-10 ones of Table 11) on the checks whose rows
            and defenses are in the dataset's table — what a bench grid uses; the checks left
            out are listed in :attr:`Verdict.left_out` (the verdict is then *partial*).
        tables: Dataset name → our :class:`~entrobust.bench.table.Table` (cells in %).
            The paper's datasets (cifar10, cifar100, svhn, mnist) get the claims about them;
            any other dataset gets every claim's direction, labelled qualitative.
        train_k: Training ε (k in k/255) of datasets the paper does not cover; by default
            ``get_dataset_spec(name).at_eps * 255`` (npz datasets must be given here).
        claims: The claims to judge (default: :func:`~entrobust.bench.claimdata.load_claims`).

    Returns:
        One :class:`Verdict` per (claim, dataset), in the claims' order then the tables' order.

    Example:
        >>> t = paper_tables(9)["mnist"]
        >>> [(v.claim.id, v.paper.status) for v in evaluate_claims(9, {"mnist": t})]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('B-mnist-small-gain', 'HOLDS'), ('B-mnist-trades-best', 'HOLDS'),
         ('B-mnist-entm-over-pat', 'HOLDS')]
        >>> v = evaluate_claims(None, {"digits": t}, train_k={"digits": 32})
        >>> v[0].qualitative, v[0].dataset
        (True, 'digits')
    """
    verdicts = []
    for claim in load_claims() if claims is None else claims:
        if table is not None and table not in claim.tables:
            continue
        if table is None and set(claim.tables) <= WIDE_TABLES:
            continue
        for name, t in tables.items():
            qualitative = name not in PAPER_TRAIN_K
            if qualitative:
                checks = qualitative_checks(claim, _train_k(name, train_k))
            else:
                checks = [c for c in claim.checks if name in c.datasets]
            left_out: tuple[str, ...] = ()
            if table is None:
                left_out = tuple(c.describe() for c in checks if not _present(c, t))
                checks = [c for c in checks if _present(c, t)]
            if not checks:
                continue
            paper = _outcome(checks, t, worst=False)
            if claim.worst_case:
                worst = _outcome(checks, t, worst=True)
            else:
                worst = Outcome(NOT_APPLICABLE, reason="compares attacks with each other")
            verdicts.append(Verdict(claim, name, table, qualitative, paper, worst, left_out))
    return verdicts


def paper_tables(number: int) -> dict[str, Table]:
    """The paper's own Table ``number`` as our :class:`Table` objects, one per dataset.

    Example:
        >>> t = paper_tables(1)["cifar10"]
        >>> t.cell(Row("white-box", "pgd40-16"), "pat-entm").mean
        19.56
    """
    from entrobust.data import get_dataset_spec
    from entrobust.paperdata import paper_results

    df = paper_results()
    df = df[df["table"] == number]
    if df.empty:
        raise InvalidValueError(f"Table {number} has no attack grid in the paper's numbers")
    out = {}
    for dataset, part in df.groupby("dataset", sort=False):
        rows = list(dict.fromkeys(Row(r.mode, r.attack) for r in part.itertuples()))
        records = [
            {"mode": r.mode, "attack": r.attack, "defense": r.defense, "accuracy": r.value / 100}
            for r in part.itertuples()
        ]
        defenses = list(dict.fromkeys(part["defense"]))
        classes = get_dataset_spec(str(dataset)).num_classes
        out[str(dataset)] = build_table(records, rows, defenses, classes, f"Table {number}")
    return out


def _counts(verdicts: Sequence[Verdict], which: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in verdicts:
        s = getattr(v, which).status
        counts[s] = counts.get(s, 0) + 1
    return counts


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|")


def claims_markdown(verdicts: Sequence[Verdict], title: str = "Claims of the paper") -> str:
    """The verdicts as a Markdown section: one table row per (claim, dataset).

    Example:
        >>> md = claims_markdown(evaluate_claims(3, paper_tables(3)))
        >>> print(md.splitlines()[0])
        #### Claims of the paper
        >>> "| `5.2.2-pgd40-16-gain` §5.2.2" in md
        True
    """
    out = [f"#### {title}", ""]
    if not verdicts:
        return "\n".join([*out, "No claim of the paper is about these rows.", ""])
    summary = lambda w: ", ".join(f"{n} {s}" for s, n in sorted(_counts(verdicts, w).items()))  # noqa: E731
    out += [
        f"Under the paper's attack: {summary('paper')}. Under the worst case: {summary('worst')}.",
        "",
        "| claim | dataset | paper's attack | worst case |",
        "|---|---|---|---|",
    ]
    for v in verdicts:
        claim = f"`{v.claim.id}` §{v.claim.section}: “{v.claim.short(90)}”"
        dataset = v.dataset + (" *(qualitative)*" if v.qualitative else "")
        if v.left_out:
            dataset += f" *(partial: {len(v.left_out)} check{'s' * (len(v.left_out) > 1)} not run)*"
        paper = f"**{v.paper.status}** {v.paper.text()}".strip()
        worst = f"**{v.worst.status}** {v.worst.text()}".strip()
        out.append(f"| {_cell(claim)} | {dataset} | {_cell(paper)} | {_cell(worst)} |")
    out += [
        "",
        "HOLDS / FAILS / NOT RUN (a needed cell is missing), with the numbers that decided it "
        "(✗ marks a row that broke the claim). *Worst case*: every attack row replaced by the "
        "worst-case row at its ε. *Qualitative*: a dataset the paper does not cover — only the "
        "direction is checked, at the paper's ε scaled by the training ε. *Partial*: checks "
        "needing defenses or rows outside this grid are left out. Claims and how each "
        "sentence was read: `entrobust/paperdata/claims.json`.",
    ]
    return "\n".join(out) + "\n"


def _num(x: float) -> float | None:
    return round(x, 4) if math.isfinite(x) else None


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "status": o.status,
        "text": o.text(full=True),
        "checks": [
            {
                "check": r.check.describe(),
                "left": r.check.left,
                "right": r.check.right,
                "op": r.check.op,
                "threshold": r.check.threshold,
                "quantifier": r.check.quantifier,
                "status": r.status,
                "missing": list(r.missing),
                "comparisons": [
                    {
                        "row": x.row.label,
                        "right_row": None if x.right_row is None else x.right_row.label,
                        "left": _num(x.left),
                        "right": _num(x.right),
                        "diff": _num(x.diff),
                        "ok": x.ok,
                    }
                    for x in r.comparisons
                ],
            }
            for r in o.results
        ],
    }


def claims_json(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """The verdicts as a JSON-ready dict (no NaN), to write next to ``results.csv``.

    Example:
        >>> import json
        >>> doc = claims_json(evaluate_claims(1, paper_tables(1)))
        >>> doc["verdicts"][0]["claim"], doc["summary"]["paper"]["FAILS"]
        ('5.2.1-entm-ls-beat-adp', 1)
        >>> json.loads(json.dumps(doc, allow_nan=False)) == doc
        True
    """
    return {
        "format": 1,
        "summary": {"paper": _counts(verdicts, "paper"), "worst_case": _counts(verdicts, "worst")},
        "verdicts": [
            {
                "claim": v.claim.id,
                "section": v.claim.section,
                "sentence": v.claim.sentence,
                "note": v.claim.note,
                "tables": list(v.claim.tables),
                "table": v.table,
                "dataset": v.dataset,
                "qualitative": v.qualitative,
                "left_out": list(v.left_out),
                "paper": _outcome_json(v.paper),
                "worst_case": _outcome_json(v.worst),
            }
            for v in verdicts
        ],
    }


def report_claims(
    table: int | None,
    tables: Mapping[str, Table],
    json_path: str | Path,
    *,
    train_k: Mapping[str, int] | None = None,
    title: str = "Claims of the paper",
) -> str:
    """Evaluate the claims, write their JSON to ``json_path`` (atomically, beside
    ``results.csv``) and return the Markdown to print under the table."""
    verdicts = evaluate_claims(table, tables, train_k=train_k)
    write_json(json_path, claims_json(verdicts))
    return claims_markdown(verdicts, title)
