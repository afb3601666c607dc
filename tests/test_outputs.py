"""Interoperable outputs: RobustBench-style model cards and the booktabs LaTeX table."""

from __future__ import annotations

import json
from types import SimpleNamespace

import entrobust
from entrobust.bench.grid import BLACK, CASCADE, WHITE, Row, worst_row
from entrobust.bench.robustbench import model_cards, write_model_cards
from entrobust.bench.table import build_table, to_latex
from entrobust.training import make_config

ROWS = [
    Row(WHITE, "clean"),
    Row(WHITE, "pgd40-8"),
    Row(BLACK, "pgd40-8"),
    Row(CASCADE, "autoattack-8"),
    worst_row(8),
]


def _table():
    acc = {"clean": (0.85, 0.87), "pgd40-8": (0.52, 0.50), "autoattack-8": (0.47, 0.45)}
    results = []
    for seed in (0, 1):
        for row in ROWS:
            name = "autoattack-8" if row.mode in (CASCADE, "worst-case") else row.attack
            a = acc[name][seed] + (0.1 if row.mode == BLACK else 0.0)
            results.append(
                dict(mode=row.mode, attack=row.attack, defense="pat_x", accuracy=str(a), seed=seed)
            )
    table = build_table(results, ROWS, ["pat_x"], num_classes=10, title="cifar10 (wrn34-10)")
    table.headline_k = 8
    return table


def _plan():
    cfg = {s: make_config("cifar10", "pat", profile="paper", seed=s) for s in (0, 1)}
    return SimpleNamespace(
        dataset="cifar10",
        defenses=["pat_x"],
        seeds=[0, 1],
        profile="paper",
        configs={("pat_x", s): c for s, c in cfg.items()},
    )


def test_model_card_has_robustbench_fields_and_ours(tmp_path):
    card = model_cards(_plan(), _table())["pat_x"]
    for key in (
        "link",
        "name",
        "authors",
        "additional_data",
        "number_forward_passes",
        "dataset",
        "venue",
        "architecture",
        "eps",
        "clean_acc",
        "reported",
        "autoattack_acc",
    ):
        assert key in card
    assert card["eps"] == "8/255" and card["threat_model"] == "Linf"
    assert card["clean_acc"] == "86.00" and card["autoattack_acc"] == "46.00"
    assert card["architecture"] == "ResNet-18" and card["dataset"] == "cifar10"
    ours = card["entrobust"]
    assert ours["version"] == entrobust.__version__
    assert ours["worst_case_acc"] == "46.00" and ours["seeds"] == [0, 1]
    assert ours["training"]["epochs"] == 120 and ours["training"]["at_steps"] == 7
    (path,) = write_model_cards(_plan(), _table(), tmp_path)
    assert path.name == "robustbench-cifar10-pat_x-paper.json"
    assert json.loads(path.read_text())["clean_acc"] == "86.00"


def test_latex_is_booktabs_with_caption_and_markup():
    tex = to_latex(_table(), label="tab:x")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[t]" and lines[-1] == r"\end{table}"
    assert r"\toprule" in lines and r"\bottomrule" in lines and r"\hline" not in tex
    assert lines.count(r"\midrule") == 2  # under the header and above the worst case
    caption = next(line for line in lines if line.startswith(r"\caption{"))
    assert "mean ± std" not in caption and r"mean $\pm$ std over 2 models" in caption
    assert r"Most robust under the worst case at $\epsilon$ = 8/255: pat\_x" in caption
    assert r"\label{tab:x}" in lines
    assert r"pat\_x" in tex  # escaped header
    body = "\n".join(lines[lines.index(r"\toprule") :])
    assert r"\textbf{" in body and r"\textit{" not in body  # black-box higher: no italics


def test_a_defense_that_did_not_learn_is_never_crowned_nor_bold():
    """At twice the training ε a model stuck at one prediction keeps ~1/K under every attack
    and would beat trained models; the table names it instead of ranking it."""
    from entrobust.bench.table import to_markdown

    rows = [Row(WHITE, "clean"), Row(WHITE, "pgd40-16"), worst_row(16)]
    acc = {"pat": (0.95, 0.04, 0.03), "mart": (0.103, 0.103, 0.103)}
    results = [
        dict(mode=r.mode, attack=r.attack, defense=d, accuracy=str(a[i]), seed=0)
        for d, a in acc.items()
        for i, r in enumerate(rows)
    ]
    table = build_table(results, rows, ["pat", "mart"], num_classes=10)
    table.headline_k = 16
    assert list(table.not_learned) == ["mart"] and abs(table.not_learned["mart"] - 10.3) < 1e-9
    assert table.headline() == (
        "Most robust under the worst case at ε = 16/255: pat (3.00%); "
        "not ranked, did not learn: mart."
    )
    assert not any(table.cell(r, "mart").bold for r in rows)
    assert table.cell(worst_row(16), "pat").bold is False  # 3% is below chance
    md = to_markdown(table)
    assert "**Did not learn (clean accuracy near chance): mart 10.30%." in md
    assert "Did not learn" in to_latex(table)
