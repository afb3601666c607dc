"""``entrobust reproduce --table N``: one spec per table of the paper, run and compared.

Tables 1–3, 6–9, 11–13 are attack grids: they run through the bench with the paper's
datasets, architectures, defenses and rows (read from the paper's own ``results.csv``), and
print ours beside the paper's with Δ = ours − paper. Table 5 is the training settings (our
``paper`` profile is compared with it). Tables 4 and 10 are analyses: they train the models
of :data:`ANALYSIS_MODELS` and run the pipelines of ``entrobust analyze jacobian`` and
``entrobust analyze random-search`` (:func:`run_analysis_table`). Cells where the
paper's tables disagree with each other are marked † and listed under the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from entrobust.bench.grid import Row
from entrobust.errors import InvalidValueError
from entrobust.paperdata import discrepancies, paper_results
from entrobust.training import TrainConfig, make_config, train

if TYPE_CHECKING:
    from entrobust.analysis.pipelines import AnalysisResult

#: The tables this command knows.
TABLES = tuple(range(1, 14))
ANALYSIS_TABLES = {4: "jacobian", 10: "random-search"}
#: The models each analysis table needs (CIFAR-10 ResNet18 in the paper).
ANALYSIS_MODELS = {4: ("normal", "entm", "pat", "pat-entm"), 10: ("entm", "adp", "ls", "pat")}


@dataclass
class TableSpec:
    """What one grid table needs: per dataset, the defenses, rows and overrides."""

    number: int
    datasets: list[str]
    arch: str
    defenses: list[str]
    rows: list[Row]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def table_spec(number: int) -> TableSpec:
    """The spec of a grid table, read from the paper's numbers.

    Example:
        >>> s = table_spec(11)
        >>> s.datasets, s.arch, s.defenses
        (['cifar10', 'cifar100'], 'wrn34-10', ['pat', 'trades', 'pat-entm'])
        >>> s.overrides["cifar100"]["pat-entm"]
        {'lam': 0.5}
    """
    if number not in TABLES:
        raise InvalidValueError(f"the paper has Tables 1–13; got {number}")
    df = paper_results()
    df = df[df["table"] == number]
    if df.empty:
        raise InvalidValueError(f"Table {number} is not an attack grid (see `reproduce --help`)")
    rows = [Row(m, a) for m, a in df[["mode", "attack"]].drop_duplicates().itertuples(index=False)]
    spec = TableSpec(
        number,
        list(dict.fromkeys(df["dataset"])),
        df["arch"].iloc[0],
        list(dict.fromkeys(df["defense"])),
        rows,
    )
    if number == 11:  # App. D: λ chosen per dataset for WRN-34-10
        spec.overrides = {
            "cifar10": {"pat-entm": {"lam": 1.0}},
            "cifar100": {"pat-entm": {"lam": 0.5}},
        }
    return spec


def paper_values(number: int, dataset: str) -> dict[tuple[Row, str], float]:
    """The printed values of Table ``number`` for ``dataset``, keyed by (row, defense)."""
    df = paper_results()
    df = df[(df["table"] == number) & (df["dataset"] == dataset)]
    return {(Row(r.mode, r.attack), r.defense): float(r.value) for r in df.itertuples()}


def discrepancy_notes(number: int) -> pd.DataFrame:
    """The paper's own inconsistencies touching Table ``number``."""
    d = discrepancies()
    return d[d["table"] == number]


def comparison_markdown(number: int, dataset: str, table, profile: str = "paper") -> str:
    """Ours vs the paper, cell by cell, with Δ and † on the paper's inconsistent cells; with a
    profile other than ``paper`` a line above the table says Δ compares a smaller training.

    Example:
        >>> from entrobust.bench.table import Table
        >>> md = comparison_markdown(9, "mnist", Table("", [], ["pat"]), profile="quick")
        >>> print(md.splitlines()[2].split(":")[0])
        > Profile `quick` is not the paper's training (Table 5)
    """
    paper = paper_values(number, dataset)
    notes = discrepancy_notes(number)
    flagged = {
        (Row(r.mode, r.attack), r.defense) for r in notes.itertuples() if r.dataset == dataset
    }
    out = [
        f"**Table {number} — {dataset}: ours / paper (Δ = ours − paper), accuracy %**",
        "",
    ]
    if profile != "paper":
        out += [
            f"> Profile `{profile}` is not the paper's training (Table 5): Δ compares a smaller, "
            "shorter run with the paper's numbers and is expected to be large. Only "
            "`--profile paper` reproduces them.",
            "",
        ]
    out += [
        "| mode | attack | " + " | ".join(table.defenses) + " |",
        "|---|---|" + "---:|" * len(table.defenses),
    ]
    for row in table.rows:
        cells = []
        for d in table.defenses:
            ours, theirs = table.cell(row, d), paper.get((row, d))
            mark = "†" if (row, d) in flagged else ""
            if ours is None and theirs is None:
                cells.append("-")
            elif ours is None:
                cells.append(f"- / {theirs:.2f}{mark}")
            elif theirs is None:
                cells.append(f"{ours.mean:.2f} / -")
            else:
                cells.append(f"{ours.mean:.2f} / {theirs:.2f}{mark} ({ours.mean - theirs:+.2f})")
        out.append(f"| {row.mode} | {row.attack} | " + " | ".join(cells) + " |")
    rows = notes[notes["dataset"] == dataset]
    if len(rows):
        out += ["", "† The paper disagrees with itself here:"]
        out += [
            f"- {r.mode} {r.attack}, {r.defense}: printed {r.printed}, elsewhere "
            f"{r.other_tables} — {r.note}"
            for r in rows.itertuples()
        ]
    return "\n".join(out) + "\n"


def table5_markdown() -> str:
    """Our ``paper`` profile next to the paper's Table 5."""
    from entrobust.paperdata import paper_table
    from entrobust.training import PAPER_TABLE5

    out = [
        "**Table 5 — training settings: paper / ours (`--profile paper`)**",
        "",
        "| family | epochs | lr | milestones | batch | weight decay | momentum |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in paper_table("table5").itertuples():
        s = PAPER_TABLE5[r.model_family]
        out.append(
            f"| {r.model_family} | {r.total_training_epochs} / {s.epochs} | "
            f"{r.initial_learning_rate} / {s.lr} | {r.learning_rate_decay_epoch} / "
            f"{list(s.milestones)} | {r.batch_size} / {s.batch_size} | {r.weight_decay} / "
            f"{s.weight_decay} | {r.momentum} / {s.momentum} |"
        )
    return "\n".join(out) + "\n"


def analysis_configs(
    number: int,
    dataset: str,
    *,
    profile: str = "paper",
    seeds: Sequence[int] = (0,),
    data_dir: str | Path = "data",
    overrides: dict[str, Any] | None = None,
) -> list[TrainConfig]:
    """The training configs of analysis Table ``number`` (4 or 10): every seed × model.

    Example:
        >>> [c.defense for c in analysis_configs(10, "digits", profile="ci")]
        ['entm', 'adp', 'ls', 'pat']
    """
    if number not in ANALYSIS_TABLES:
        raise InvalidValueError(f"Table {number} is not an analysis table (4 or 10)")
    return [
        make_config(dataset, d, profile=profile, seed=s, data_dir=data_dir, **(overrides or {}))
        for s in seeds
        for d in ANALYSIS_MODELS[number]
    ]


def run_analysis_table(
    number: int,
    configs: Sequence[TrainConfig],
    out: str | Path,
    *,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> AnalysisResult:
    """Train (or reuse) ``configs``, then run Table ``number``'s analysis (the defaults of
    ``entrobust analyze jacobian`` / ``random-search``) on them, writing into ``out``."""
    from entrobust.analysis.pipelines import (
        EvalSettings,
        jacobian_table_analysis,
        random_search_analysis,
    )

    runs = [
        train(
            c,
            runs_dir=runs_dir,
            data_dir=data_dir,
            download=download,
            device=device,
            progress=progress,
        ).run_dir
        for c in configs
    ]
    settings = EvalSettings(data_dir=str(data_dir), device=device)
    if number == 4:
        return jacobian_table_analysis(runs, settings=settings, out=out)
    return random_search_analysis(runs, settings=settings, out=out)
