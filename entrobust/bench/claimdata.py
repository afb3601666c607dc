"""The paper's quantitative claims as data: :class:`Claim` and :class:`Check`, read from JSON.

The claims live in ``entrobust/paperdata/claims.json`` (shipped with the package). Each claim
quotes one sentence of the paper verbatim and lists the tables it is about and one or more
:class:`Check`\\ s — comparisons over table cells such as *PAT-EntM − PAT ≥ 8.5 points under
white-box PGD40-16 on CIFAR-10 and SVHN*. Rows are written in the paper's notation
(``"white-box pgd40-16"``); ``*`` stands for any number of steps or any ε
(``"white-box pgd*-*"`` is every white-box PGD row of the table). Nothing is ``eval``-ed: the
operator and quantifier are names from small fixed sets. See ``docs/bench.md#claims``.

Example:
    >>> claims = load_claims()
    >>> c = claim_by_id("5.2.2-pgd40-16-gain")
    >>> c.tables, c.datasets
    ((1, 3, 6, 8), ('cifar10', 'svhn'))
    >>> c.checks[0].describe()
    'PAT-EntM − PAT ≥ 8.5 under white-box pgd40-16'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from entrobust.bench.grid import Row
from entrobust.errors import InvalidValueError, UnknownNameError

#: Comparison operators on ``diff = left − right`` (``within`` is ``|diff| ≤ threshold``).
OPS = (">=", ">", "<=", "<", "within")
#: Quantifiers over a check's rows: every row, at least one, or more than half.
QUANTIFIERS = ("all", "any", "most")
#: The training ε (k in k/255) of the paper's datasets: claims' ε's are relative to it.
PAPER_TRAIN_K = {"cifar10": 8, "cifar100": 8, "svhn": 8, "mnist": 48}
#: Display names of defenses in verdicts.
DISPLAY = {
    "normal": "Normal",
    "entm": "EntM",
    "ls": "LS",
    "adp": "ADP",
    "pat": "PAT",
    "pat-entm": "PAT-EntM",
    "pat-ls": "PAT-LS",
    "trades": "TRADES",
    "trades-entm": "TRADES-EntM",
    "trades-ls": "TRADES-LS",
}
_SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "within": "within ±"}
_KPART = re.compile(r"(fgsm|(?!l2)[a-z][a-z0-9*-]*-)(\d+)")


def display(defense: str) -> str:
    """The paper's spelling of a defense name (``pat-entm`` → ``PAT-EntM``).

    Example:
        >>> display("pat-entm"), display("mart")
        ('PAT-EntM', 'mart')
    """
    return DISPLAY.get(defense, defense)


def parse_row(text: str) -> Row:
    """A row selector ``"MODE ATTACK"`` (``ATTACK`` may hold ``*``) as a :class:`Row`.

    Example:
        >>> parse_row("black-box pgd10-8")
        Row(mode='black-box', attack='pgd10-8')
        >>> parse_row("pgd10-8")
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: row 'pgd10-8': write it as 'MODE ATTACK', \
e.g. 'white-box pgd40-16'
    """
    mode, _, attack = text.strip().partition(" ")
    if not attack or mode not in ("white-box", "black-box", "worst-case"):
        raise InvalidValueError(
            f"row {text!r}: write it as 'MODE ATTACK', e.g. 'white-box pgd40-16'"
        )
    return Row(mode, attack.strip())


def row_k(attack: str) -> int | None:
    """The ε (k in k/255) written in an attack name or pattern; ``None`` if none or ``*``.

    Example:
        >>> row_k("pgd*-16"), row_k("fgsm4"), row_k("pgd40-*"), row_k("clean")
        (16, 4, None, None)
    """
    m = _KPART.fullmatch(attack)
    return int(m[2]) if m else None


def with_k(attack: str, k: int) -> str:
    """``attack`` with its ε replaced by ``k`` (names without an ε are returned unchanged).

    Example:
        >>> with_k("pgd40-16", 64), with_k("fgsm4", 16), with_k("clean", 3)
        ('pgd40-64', 'fgsm16', 'clean')
    """
    m = _KPART.fullmatch(attack)
    return f"{m[1]}{k}" if m else attack


@dataclass(frozen=True)
class Check:
    """One comparison over table cells: ``left − right OP threshold`` on ``rows``.

    Attributes:
        datasets: Datasets (the paper's names) this check is about.
        left: A defense name.
        right: A defense name, or a constant accuracy in % (e.g. 10 for random guessing).
        rows: Row selectors, ``Row(mode, attack)`` where ``attack`` may contain ``*``.
        op: One of :data:`OPS`, applied to ``diff = left − right`` (points).
        threshold: The number ``diff`` is compared with (points).
        quantifier: One of :data:`QUANTIFIERS`, over the rows.
        right_rows: For a comparison of two attacks on one defense: the right side's row
            paired with each of ``rows`` (no ``*``); ``None`` compares on the same row.
        qualitative: Whether the check's direction carries over to datasets the paper does
            not cover (``False`` for magnitude bounds and dataset-specific exceptions).
    """

    datasets: tuple[str, ...]
    left: str
    right: str | float
    rows: tuple[Row, ...]
    op: str
    threshold: float = 0.0
    quantifier: str = "all"
    right_rows: tuple[Row, ...] | None = None
    qualitative: bool = True

    def describe(self) -> str:
        """A one-line statement of the check.

        Example:
            >>> Check(("cifar10",), "entm", 10.0, (Row("white-box", "pgd40-*"),), "<=").describe()
            'EntM ≤ 10 under white-box pgd40-*'
        """
        right = display(self.right) if isinstance(self.right, str) else f"{self.right:g}"
        rows = ", ".join(r.label for r in self.rows)
        if self.right_rows is not None:
            rows += " vs " + ", ".join(r.label for r in self.right_rows)
        if isinstance(self.right, str) or self.threshold:
            lhs = f"{display(self.left)} − {right}"
            rel = f"{_SYMBOL[self.op]} {self.threshold:g}"
        else:
            lhs, rel = display(self.left), f"{_SYMBOL[self.op]} {right}"
        quant = {"all": "", "any": "any of ", "most": "most of "}[self.quantifier]
        return f"{lhs} {rel} under {quant}{rows}"

    def defenses(self) -> tuple[str, ...]:
        """The defenses whose cells the check reads."""
        return (self.left,) if not isinstance(self.right, str) else (self.left, self.right)


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of the paper.

    Attributes:
        id: Stable identifier, e.g. ``5.2.2-pgd40-16-gain``.
        section: The paper's section (``5.2.1``, ``B``, ...).
        sentence: The sentence quoted verbatim from the paper.
        tables: The paper's tables the claim is about.
        checks: The comparisons that decide it (all must hold).
        note: How the sentence was read into checks.
        worst_case: Whether the claim is meaningful under the worst-case rows (``False`` for
            claims that compare two attacks with each other).
    """

    id: str
    section: str
    sentence: str
    tables: tuple[int, ...]
    checks: tuple[Check, ...]
    note: str = ""
    worst_case: bool = True

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset named by one of the checks, in order."""
        return tuple(dict.fromkeys(d for c in self.checks for d in c.datasets))

    def short(self, width: int = 110) -> str:
        """The sentence, shortened to ``width`` characters.

        Example:
            >>> claim_by_id("5.2.2-cw").short(40)
            'Results under CW (Table 1 and 2) show…'
        """
        s = re.sub(r"\s+", " ", self.sentence).strip()
        return s if len(s) <= width else s[: width - 1].rsplit(" ", 1)[0] + "…"


def _field(d: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in d:
        raise InvalidValueError(f"{where}: missing {key!r}")
    if not isinstance(d[key], kind) or isinstance(d[key], bool) is not (kind is bool):
        raise InvalidValueError(f"{where}: {key!r} has the wrong type ({d[key]!r})")
    return d[key]


def _check(d: dict[str, Any], where: str) -> Check:
    known = {
        "datasets",
        "left",
        "right",
        "rows",
        "op",
        "threshold",
        "quantifier",
        "right_rows",
        "qualitative",
    }
    if unknown := set(d) - known:
        raise InvalidValueError(f"{where}: unknown keys {sorted(unknown)}")
    datasets = tuple(_field(d, "datasets", where, list))
    for name in datasets:
        if name not in PAPER_TRAIN_K:
            raise UnknownNameError(
                f"{where}: dataset {name!r} is not one of the paper's ({', '.join(PAPER_TRAIN_K)})"
            )
    if len({PAPER_TRAIN_K[n] for n in datasets}) != 1:
        raise InvalidValueError(f"{where}: datasets {datasets} have different training ε")
    right = _field(d, "right", where, (str, int, float))
    op = _field(d, "op", where, str)
    quantifier = d.get("quantifier", "all")
    if op not in OPS:
        raise InvalidValueError(f"{where}: op {op!r} is not one of {', '.join(OPS)}")
    if quantifier not in QUANTIFIERS:
        raise InvalidValueError(f"{where}: quantifier {quantifier!r} is not one of {QUANTIFIERS}")
    rows = tuple(parse_row(r) for r in _field(d, "rows", where, list))
    right_rows = None
    if "right_rows" in d:
        right_rows = tuple(parse_row(r) for r in _field(d, "right_rows", where, list))
        if len(right_rows) != len(rows) or any("*" in r.attack for r in right_rows):
            raise InvalidValueError(f"{where}: right_rows must pair each row, without '*'")
        if not isinstance(right, str):
            raise InvalidValueError(f"{where}: right_rows needs a defense on the right")
    if not rows:
        raise InvalidValueError(f"{where}: no rows")
    threshold = d.get("threshold", 0)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise InvalidValueError(f"{where}: threshold must be a number")
    return Check(
        datasets=datasets,
        left=_field(d, "left", where, str),
        right=right if isinstance(right, str) else float(right),
        rows=rows,
        op=op,
        threshold=float(threshold),
        quantifier=quantifier,
        right_rows=right_rows,
        qualitative=bool(d.get("qualitative", True)),
    )


def parse_claims(doc: dict[str, Any]) -> list[Claim]:
    """Claims from the JSON document (``{"format": 1, "claims": [...]}``), validated.

    Raises:
        InvalidValueError: A malformed claim; the message names it and the field.

    Example:
        >>> doc = {"format": 1, "claims": [{"id": "x", "section": "5", "sentence": "s",
        ...        "tables": [1], "checks": [{"datasets": ["cifar10"], "left": "pat-entm",
        ...        "right": "pat", "rows": ["white-box clean"], "op": ">"}]}]}
        >>> parse_claims(doc)[0].checks[0].describe()
        'PAT-EntM − PAT > 0 under white-box clean'
        >>> parse_claims({"format": 1, "claims": [{"id": "x"}]})
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: claim 'x': missing 'section'
    """
    if doc.get("format") != 1 or not isinstance(doc.get("claims"), list):
        raise InvalidValueError("claims file: expected {'format': 1, 'claims': [...]}")
    claims, seen = [], set()
    for i, c in enumerate(doc["claims"]):
        where = f"claim {c.get('id', i)!r}"
        cid = _field(c, "id", where, str)
        if cid in seen:
            raise InvalidValueError(f"{where}: duplicate id")
        seen.add(cid)
        section = _field(c, "section", where, str)
        sentence = _field(c, "sentence", where, str)
        tables = tuple(int(t) for t in _field(c, "tables", where, list))
        checks = _field(c, "checks", where, list)
        if not checks:
            raise InvalidValueError(f"{where}: no checks")
        claims.append(
            Claim(
                id=cid,
                section=section,
                sentence=sentence,
                tables=tables,
                checks=tuple(_check(x, f"{where}, check {j}") for j, x in enumerate(checks)),
                note=c.get("note", ""),
                worst_case=bool(c.get("worst_case", True)),
            )
        )
    return claims


@lru_cache(maxsize=1)
def _shipped() -> tuple[Claim, ...]:
    text = files("entrobust.paperdata").joinpath("claims.json").read_text(encoding="utf-8")
    return tuple(parse_claims(json.loads(text)))


def load_claims(ids: Sequence[str] | None = None) -> list[Claim]:
    """The claims shipped with the package (``entrobust/paperdata/claims.json``).

    Args:
        ids: Keep only these claim ids (in the file's order); ``None`` for all.

    Example:
        >>> len(load_claims()) >= 20
        True
    """
    claims = list(_shipped())
    if ids is None:
        return claims
    known = {c.id for c in claims}
    if missing := [i for i in ids if i not in known]:
        raise UnknownNameError(f"unknown claim {missing[0]!r}; valid: {', '.join(sorted(known))}")
    return [c for c in claims if c.id in set(ids)]


def claim_by_id(cid: str) -> Claim:
    """One shipped claim by id (raises :class:`UnknownNameError` listing the valid ids)."""
    return load_claims([cid])[0]
