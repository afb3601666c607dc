"""Tables in the paper's layout: rows = attacks, columns = defenses, mean ± std over seeds.

Markup follows the paper: the best accuracy of a row is **bold** when it beats random
guessing; a white-box accuracy *higher than the black-box one* for the same attack and defense
is in *italics* (a gradient-masking symptom). Beyond the paper: ``worst-case epsK`` rows (the
points that survive every attack at that ε), a headline decided by the worst case at the
training ε, and ``[+g]`` on every cell whose attack overstates robustness by more than
:data:`GAP_POINTS` against the worst case at its ε. Rendered as Markdown, LaTeX and CSV.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from entrobust.bench.grid import BLACK, WHITE, WORST, Row, worst_row
from entrobust.training.overfit import CHANCE_FACTOR

#: A cell more than this many points above the worst case at its ε is marked with the gap.
GAP_POINTS = 2.0


@dataclass
class Cell:
    """One table cell: accuracies (%) over seeds, and its markup."""

    values: list[float]
    bold: bool = False
    italic: bool = False
    note: str = ""
    models: int = 1
    repeats: int = 1
    gap: float | None = None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self) -> str:
        s = f"{self.mean:.2f}"
        if len(self.values) > 1:
            s += f" ± {self.std:.2f}"
        if self.gap is not None:
            s += f" [+{self.gap:.1f}]"
        return s + self.note


@dataclass
class Table:
    """A results table ready to render."""

    title: str
    rows: list[Row]
    defenses: list[str]
    cells: dict[tuple[Row, str], Cell] = field(default_factory=dict)
    headline_k: int | None = None
    #: Defenses with a model whose clean accuracy is near chance (their lowest clean %):
    #: they did not learn, so they are never bold nor ranked in the headline.
    not_learned: dict[str, float] = field(default_factory=dict)

    def cell(self, row: Row, defense: str) -> Cell | None:
        return self.cells.get((row, defense))

    def headline(self) -> str | None:
        """Which defense is most robust under the worst case at ``headline_k`` (the training
        ε), in one sentence; None without worst-case numbers there.

        Example:
            >>> t = Table("", [worst_row(8)], ["pat", "trades"], headline_k=8)
            >>> t.cells[(worst_row(8), "pat")] = Cell([40.0])
            >>> t.cells[(worst_row(8), "trades")] = Cell([45.5])
            >>> t.headline()
            'Most robust under the worst case at ε = 8/255: trades (45.50%; then pat 40.00%).'
        """
        if self.headline_k is None:
            return None
        row = worst_row(self.headline_k)
        ranked = sorted(
            (
                (c.mean, d)
                for d in self.defenses
                if d not in self.not_learned and (c := self.cell(row, d)) is not None
            ),
            reverse=True,
        )
        if not ranked:
            return None
        rest = "; then " + ", ".join(f"{d} {m:.2f}%" for m, d in ranked[1:]) if ranked[1:] else ""
        skipped = (
            "; not ranked, did not learn: " + ", ".join(self.not_learned)
            if self.not_learned
            else ""
        )
        return (
            f"Most robust under the worst case at ε = {self.headline_k}/255: "
            f"{ranked[0][1]} ({ranked[0][0]:.2f}%{rest}){skipped}."
        )

    def not_learned_note(self) -> str | None:
        """One sentence naming the defenses that did not learn, or None.

        Example:
            >>> t = Table("", [Row(WHITE, "clean")], ["pat", "mart"], not_learned={"mart": 10.3})
            >>> t.not_learned_note().split(":")[0]
            'Did not learn (clean accuracy near chance)'
        """
        if not self.not_learned:
            return None
        which = ", ".join(f"{d} {v:.2f}%" for d, v in self.not_learned.items())
        return (
            f"Did not learn (clean accuracy near chance): {which}. A model stuck at one "
            "prediction keeps that accuracy under every attack, so its numbers measure no "
            "defense: train it longer or with a lower learning rate or ε."
        )


def build_table(
    results: Iterable[dict[str, str]],
    rows: Sequence[Row],
    defenses: Sequence[str],
    num_classes: int,
    title: str = "",
) -> Table:
    """Aggregate long-form result rows (accuracy as a fraction) into a :class:`Table`.

    Example:
        >>> r = [dict(mode="white-box", attack="clean", defense=d, accuracy=a)
        ...      for d, a in (("normal", "0.9"), ("pat", "0.8"))]
        >>> t = build_table(r, [Row("white-box", "clean")], ["normal", "pat"], num_classes=10)
        >>> t.cell(Row("white-box", "clean"), "normal").bold
        True
    """
    values: dict[tuple[Row, str], list[float]] = defaultdict(list)
    models: dict[tuple[Row, str], set[str]] = defaultdict(set)
    repeats: dict[tuple[Row, str], set[str]] = defaultdict(set)
    for r in results:
        key = (Row(r["mode"], r["attack"]), r["defense"])
        values[key].append(100 * float(r["accuracy"]))
        models[key].add(str(r.get("seed", "")))
        repeats[key].add(str(r.get("repeat", "")))
    table = Table(title, list(rows), list(defenses))
    for key, vals in values.items():
        if key[0] in table.rows and key[1] in table.defenses:
            table.cells[key] = Cell(vals, models=len(models[key]), repeats=len(repeats[key]))
    chance = 100.0 / num_classes
    clean = Row(WHITE, "clean")
    for d in defenses:
        c = table.cell(clean, d)
        if c is not None and min(c.values) < CHANCE_FACTOR * chance:
            table.not_learned[d] = min(c.values)
    for row in table.rows:
        present = [
            c
            for d in defenses
            if d not in table.not_learned and (c := table.cell(row, d)) is not None
        ]
        if present:
            best = max(c.mean for c in present)
            for c in present:
                c.bold = c.mean == best and best > chance
        if row.mode == WHITE:
            for d in defenses:
                white, black = table.cell(row, d), table.cell(Row(BLACK, row.attack), d)
                if white is not None and black is not None and white.mean > black.mean:
                    white.italic = True
        if row.mode != WORST and row.k is not None:
            for d in defenses:
                cell, worst = table.cell(row, d), table.cell(worst_row(row.k), d)
                if cell is not None and worst is not None and cell.mean - worst.mean > GAP_POINTS:
                    cell.gap = cell.mean - worst.mean
    return table


def _markup(cell: Cell | None, bold: tuple[str, str], italic: tuple[str, str]) -> str:
    if cell is None:
        return "-"
    s = cell.text()
    if cell.italic:
        s = f"{italic[0]}{s}{italic[1]}"
    if cell.bold:
        s = f"{bold[0]}{s}{bold[1]}"
    return s


def to_markdown(table: Table) -> str:
    """GitHub Markdown: **bold** best, *italic* white-box > black-box."""
    out = [f"**{table.title}**", ""] if table.title else []
    out.append("| mode | attack | " + " | ".join(table.defenses) + " |")
    out.append("|---|---|" + "---:|" * len(table.defenses))
    for row in table.rows:
        cells = [_markup(table.cell(row, d), ("**", "**"), ("*", "*")) for d in table.defenses]
        out.append(f"| {row.mode} | {row.attack} | " + " | ".join(cells) + " |")
    out.append("")
    headline = table.headline()
    if headline:
        out += [f"**{headline}**", ""]
    note = table.not_learned_note()
    if note:
        out += [f"**{note}**", ""]
    out.append(
        f"Accuracy (%), {averaging(table)}. **Bold**: best of the row (above chance). "
        "*Italics*: white-box accuracy higher than black-box for the same attack."
    )
    if any(r.mode == WORST for r in table.rows):
        out.append(
            "`worst-case epsK`: points that survive every attack at ε = K/255 (white-box, "
            "black-box and the `cascade` rows, each tried on the survivors of the attacks "
            f"above it). [+g]: the attack overstates robustness by g > {GAP_POINTS:g} points "
            "against that worst case."
        )
    return "\n".join(out) + "\n"


def averaging(table: Table) -> str:
    """What stands behind each number, e.g. ``mean ± std over 3 models × 3 attack repeats``.

    Example:
        >>> t = Table("", [Row(WHITE, "pgd10-8")], ["pat"])
        >>> t.cells[(Row(WHITE, "pgd10-8"), "pat")] = Cell([50.0], models=1, repeats=1)
        >>> averaging(t)
        'one model, one attack run per number'
    """
    cells = list(table.cells.values())
    models = max((c.models for c in cells), default=1)
    repeats = max((c.repeats for c in cells), default=1)
    if models * repeats < 2:
        return "one model, one attack run per number"
    what = f"{models} model{'s' if models > 1 else ''}"
    if repeats > 1:
        what += f" × {repeats} attack repeats (deterministic attacks run once)"
    return f"mean ± std over {what}"


def latex_caption(table: Table) -> str:
    """What the table shows, in one caption: title, averaging, markup and the worst case.

    Example:
        >>> t = Table("svhn (wrn34-10)", [Row(WHITE, "clean")], ["pat"])
        >>> latex_caption(t).split(". ")[0]
        'svhn (wrn34-10)'
    """
    parts = [_tex_text(table.title)] if table.title else []
    parts.append(f"Accuracy (\\%), {_tex_text(averaging(table))}")
    parts.append(
        "\\textbf{Bold}: best of the row (above chance); \\textit{italics}: white-box accuracy "
        "higher than black-box for the same attack"
    )
    if any(r.mode == WORST for r in table.rows):
        parts.append(
            "worst-case epsK: points that survive every attack at $\\epsilon = K/255$; [+g]: the "
            f"attack overstates robustness by $g > {GAP_POINTS:g}$ points against it"
        )
    headline = table.headline()
    if headline:
        parts.append(_tex_text(headline.rstrip(".")))
    note = table.not_learned_note()
    if note:
        parts.append(_tex_text(note.rstrip(".")))
    return ". ".join(parts) + "."


def _tex_text(text: str) -> str:
    """Plain text made safe in LaTeX (underscores, percent signs, ε and ±).

    Example:
        >>> print(_tex_text("ε = 8/255: pat_x (50.00%)"))
        $\\epsilon$ = 8/255: pat\\_x (50.00\\%)
    """
    for old, new in (("_", r"\_"), ("%", r"\%"), ("ε", r"$\epsilon$"), ("±", r"$\pm$")):
        text = text.replace(old, new)
    return text


def to_latex(table: Table, caption: str | None = None, label: str | None = None) -> str:
    """A booktabs ``table`` (``\\toprule/\\midrule/\\bottomrule``, needs
    ``\\usepackage{booktabs}``) with ``\\textbf`` / ``\\textit`` markup and a caption
    (default :func:`latex_caption`).

    Example:
        >>> t = Table("digits", [Row(WHITE, "clean")], ["pat"])
        >>> t.cells[(Row(WHITE, "clean"), "pat")] = Cell([97.5], bold=True)
        >>> print(to_latex(t, label="tab:digits"))
        \\begin{table}[t]
        \\centering
        \\caption{digits. Accuracy (\\%), one model, one attack run per number. ...}
        \\label{tab:digits}
        \\begin{tabular}{llr}
        \\toprule
        mode & attack & pat \\\\
        \\midrule
        white-box & clean & \\textbf{97.50} \\\\
        \\bottomrule
        \\end{tabular}
        \\end{table}
        <BLANKLINE>
    """
    esc = _tex_text
    out = [r"\begin{table}[t]", r"\centering"]
    out.append(r"\caption{" + (caption if caption is not None else latex_caption(table)) + "}")
    if label:
        out.append(r"\label{" + label + "}")
    out += [r"\begin{tabular}{ll" + "r" * len(table.defenses) + "}", r"\toprule"]
    out.append("mode & attack & " + " & ".join(esc(d) for d in table.defenses) + r" \\")
    out.append(r"\midrule")
    previous = None
    for row in table.rows:
        if previous is not None and row.mode != previous and row.mode == WORST:
            out.append(r"\midrule")  # the worst case apart from the attacks it is taken over
        previous = row.mode
        cells = [
            esc(_markup(table.cell(row, d), (r"\textbf{", "}"), (r"\textit{", "}")))
            for d in table.defenses
        ]
        out.append(f"{esc(row.mode)} & {esc(row.attack)} & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """Plain numbers: one line per row, mean and std columns per defense."""
    buf = io.StringIO()
    header = ["mode", "attack"] + [f"{d}_{s}" for d in table.defenses for s in ("mean", "std")]
    buf.write(",".join(header) + "\n")
    for row in table.rows:
        vals = []
        for d in table.defenses:
            c = table.cell(row, d)
            vals += ["", ""] if c is None else [f"{c.mean:.4f}", f"{c.std:.4f}"]
        buf.write(",".join([row.mode, row.attack, *vals]) + "\n")
    return buf.getvalue()
