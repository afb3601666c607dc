"""RobustBench-style model cards: one JSON per evaluated defense, written next to results.csv.

The fields RobustBench's ``model_info/<dataset>/<threat model>/<name>.json`` files use
(``name``, ``dataset``, ``architecture``, ``eps`` as ``"8/255"``, ``clean_acc`` and
``autoattack_acc`` as percentages in strings, ``additional_data``,
``number_forward_passes``, ``link``, ``authors``, ``venue``, ``reported``, ``footnote``), plus
the threat model and an ``entrobust`` block with what RobustBench does not record: the worst
case over every attack at that ε (exact, from per-point flags), per-seed spread, the
training settings and the versions. ``autoattack_acc`` is AutoAttack's own number (its
``cascade`` row: AutoAttack on the points every earlier attack left robust, i.e. the worst case
including AutoAttack — never above AutoAttack alone) when the bench ran it, else ``null``.

Example:
    >>> from entrobust.bench.grid import CASCADE, WHITE, Row, worst_row
    >>> from entrobust.bench.table import Cell, Table
    >>> t = Table("", [Row(WHITE, "clean"), Row(CASCADE, "autoattack-8"), worst_row(8)], ["pat"])
    >>> t.cells[(Row(WHITE, "clean"), "pat")] = Cell([84.0, 86.0])
    >>> t.cells[(Row(CASCADE, "autoattack-8"), "pat")] = Cell([50.0, 52.0])
    >>> t.cells[(worst_row(8), "pat")] = Cell([50.0, 52.0])
    >>> card = card_fields(t, "pat", 8, "cifar10")
    >>> card["clean_acc"], card["autoattack_acc"], card["eps"], card["threat_model"]
    ('85.00', '51.00', '8/255', 'Linf')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from entrobust.bench.grid import CASCADE, WHITE, Row, worst_row
from entrobust.bench.table import Table

#: Architecture names as RobustBench writes them.
ARCH_NAMES = {
    "wrn34-10": "WideResNet-34-10",
    "resnet18": "ResNet-18",
    "cnn4": "CNN-4 (paper's small CNN)",
    "tiny": "tiny CNN",
    "tiny-bn": "tiny CNN with batch norm",
}
PAPER = "Rethinking uncertainty in deep learning: whether and how it improves robustness"


def _pct(table: Table, row: Row, defense: str) -> str | None:
    cell = table.cell(row, defense)
    return None if cell is None else f"{cell.mean:.2f}"


def _autoattack_row(table: Table, k: int) -> Row | None:
    for mode in (CASCADE, WHITE):
        row = Row(mode, f"autoattack-{k}")
        if row in table.rows:
            return row
    return None


def card_fields(table: Table, defense: str, k: int, dataset: str) -> dict[str, Any]:
    """The numbers of one defense's card at ε = k/255 (the table's means over seeds)."""
    aa = _autoattack_row(table, k)
    worst = table.cell(worst_row(k), defense)
    clean = table.cell(Row(WHITE, "clean"), defense)
    return {
        "dataset": dataset,
        "threat_model": "Linf",
        "eps": f"{k}/255",
        "clean_acc": _pct(table, Row(WHITE, "clean"), defense),
        "autoattack_acc": _pct(table, aa, defense) if aa else None,
        "worst_case_acc": None if worst is None else f"{worst.mean:.2f}",
        "seeds": None if clean is None else clean.models,
        "clean_acc_std": None if clean is None else round(clean.std, 2),
        "worst_case_acc_std": None if worst is None else round(worst.std, 2),
    }


def model_cards(plan: Any, table: Table) -> dict[str, dict[str, Any]]:
    """One RobustBench-style card per defense of a bench plan, at the table's headline ε
    (the training ε; else the largest ε of the table).

    Args:
        plan: the :class:`~entrobust.bench.plan.BenchPlan` the table was built from.
        table: its rendered :class:`~entrobust.bench.table.Table`.

    Returns:
        ``{defense: card}``; a card's ``clean_acc``/``autoattack_acc`` are ``None`` when the
        bench did not run them.
    """
    import torch

    from entrobust import __version__

    ks = sorted({r.k for r in table.rows if r.k is not None})
    k = table.headline_k if table.headline_k is not None else (ks[-1] if ks else None)
    cards = {}
    for defense in plan.defenses:
        cfg = plan.configs[(defense, plan.seeds[0])]
        train = {
            key: value
            for key, value in cfg.to_dict().items()
            if key not in ("seed", "dataset", "arch")
        }
        numbers = (
            card_fields(table, defense, k, plan.dataset)
            if k is not None
            else {"dataset": plan.dataset, "threat_model": "Linf", "eps": None}
        )
        cards[defense] = {
            "link": "",
            "name": f"{defense} ({PAPER}), entrobust {plan.profile} profile",
            "authors": "",
            "additional_data": False,
            "number_forward_passes": 1,  # every defense here is deterministic at test time
            "dataset": plan.dataset,
            "venue": "",
            "architecture": ARCH_NAMES.get(cfg.arch, cfg.arch),
            "eps": numbers["eps"],
            "clean_acc": numbers.get("clean_acc"),
            "reported": "",
            "autoattack_acc": numbers.get("autoattack_acc"),
            "footnote": (
                "Evaluated by entrobust: autoattack_acc is AutoAttack standard run on the "
                "points every other attack at this ε left robust; worst_case_acc is the "
                "fraction robust to every attack the bench ran at this ε."
            ),
            "threat_model": "Linf",
            "entrobust": {
                "version": __version__,
                "torch": torch.__version__,
                "defense": defense,
                "profile": plan.profile,
                "seeds": list(plan.seeds),
                "worst_case_acc": numbers.get("worst_case_acc"),
                "worst_case_acc_std": numbers.get("worst_case_acc_std"),
                "clean_acc_std": numbers.get("clean_acc_std"),
                "test_points": cfg.test_size,
                "training": train,
                "config_hashes": [plan.configs[(defense, s)].hash for s in plan.seeds],
            },
        }
    return cards


def card_filename(dataset: str, defense: str, profile: str) -> str:
    """``robustbench-<dataset>-<defense>-<profile>.json`` with unsafe characters replaced.

    Example:
        >>> card_filename("cifar10", "pat-entm", "paper")
        'robustbench-cifar10-pat-entm-paper.json'
    """
    return re.sub(r"[^\w.-]", "_", f"robustbench-{dataset}-{defense}-{profile}.json")


def write_model_cards(plan: Any, table: Table, out_dir: str | Path) -> list[Path]:
    """Write :func:`model_cards` as one JSON per defense into ``out_dir``; returns the paths."""
    from entrobust.atomic import json_safe, write_json

    paths = []
    for defense, card in model_cards(plan, table).items():
        path = Path(out_dir) / card_filename(plan.dataset, defense, plan.profile)
        write_json(path, json_safe(card))
        paths.append(path)
    return paths


__all__ = ["card_fields", "card_filename", "model_cards", "write_model_cards"]
