"""`entrobust reproduce`: table specs from the paper's numbers, dry-run plans, comparisons."""

from __future__ import annotations

import pytest

from entrobust.bench.estimate import estimate, training_passes
from entrobust.bench.grid import BLACK, WHITE, Row
from entrobust.bench.plan import plan_bench
from entrobust.bench.reproduce import comparison_markdown, table_spec
from entrobust.bench.table import build_table
from entrobust.cli.main import main
from entrobust.errors import InvalidValueError
from entrobust.training import make_config


def test_table_specs_come_from_the_paper():
    t1 = table_spec(1)
    assert t1.datasets == ["cifar10"] and t1.arch == "resnet18"
    assert set(t1.defenses) == {
        "normal",
        "entm",
        "ls",
        "adp",
        "pat",
        "trades",
        "pat-entm",
        "pat-ls",
    }
    assert Row(WHITE, "cw40-16") in t1.rows and Row(BLACK, "pgd10-8") in t1.rows
    t9 = table_spec(9)
    assert t9.datasets == ["mnist"] and t9.arch == "cnn4" and "ls" not in t9.defenses
    assert "trades-entm" in table_spec(12).defenses
    with pytest.raises(InvalidValueError):
        table_spec(4)  # an analysis table, not a grid
    with pytest.raises(InvalidValueError):
        table_spec(14)


def test_comparison_shows_delta_and_flags_paper_discrepancies():
    rows = [Row(WHITE, "fgsm4")]
    res = [dict(mode=WHITE, attack="fgsm4", defense="pat", accuracy="0.70")]
    table = build_table(res, rows, ["pat", "trades"], num_classes=10)
    md = comparison_markdown(1, "cifar10", table)
    assert "70.00 / 69.21† (+0.79)" in md  # Table 1's PAT/TRADES swap is marked
    assert "- / 70.33†" in md
    assert "column swap" in md


def test_estimate_counts_passes():
    cfg = make_config("cifar10", "trades", profile="paper")
    assert training_passes(cfg) == 120 * 50_000 * (7 + 3)
    plan = plan_bench(
        "mnist",
        ["normal", "pat"],
        profile="paper",
        rows=[Row(WHITE, "pgd10-32"), Row(BLACK, "pgd10-32")],
    )
    est = estimate([*plan.configs.values(), *plan.proxies.values()], plan.cells)
    assert est["total_gpu_hours"] == pytest.approx(est["train_gpu_hours"] + est["attack_gpu_hours"])
    assert est["attack_gpu_hours"] > 0


@pytest.mark.parametrize("table", ["3", "9"])
def test_dry_run_prints_full_plan(table, capsys):
    assert main(["reproduce", "--table", table, "--dry-run", "--seeds", "0,1,2"]) == 0
    out = capsys.readouterr().out
    assert "models:" in out and "cells:" in out and "estimated GPU-hours" in out
    assert ("svhn-resnet18-pat-entm-s2-" in out) if table == "3" else ("mnist-cnn4-adp-s1-" in out)


def test_table5_compares_profile(capsys):
    assert main(["reproduce", "--table", "5"]) == 0
    assert "| resnet18_with_at | 120 / 120 | 0.1 / 0.1 | [60, 84, 100] / [60, 84, 100]" in (
        capsys.readouterr().out
    )


def test_analysis_tables_dry_run(capsys):
    assert main(["reproduce", "--table", "10", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "analyze random-search" in out and "cifar10-resnet18-adp-s0-" in out
