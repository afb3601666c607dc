"""CI regression of robust accuracy against tests/baselines/regression.json.

Update the baseline deliberately with
``python -m entrobust.bench.regression --update --data-dir ../shared/datasets``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from entrobust.bench.regress import read_results
from entrobust.bench.regression import BASELINE, compare, directions, run_regression
from entrobust.bench.results import COLUMNS
from entrobust.cli.main import main

from .conftest import SHARED_DATASETS


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("regression")


@pytest.fixture(scope="module")
def values(tmp_path_factory, work_dir):
    data_dir = SHARED_DATASETS if SHARED_DATASETS.is_dir() else tmp_path_factory.mktemp("nodata")
    return run_regression(data_dir, work_dir)


def test_numbers_within_baseline_tolerances(values):
    failures = compare(values, json.loads(BASELINE.read_text()))
    assert not failures, "\n".join(map(str, failures))


def test_the_regress_command_checks_this_bench(values, work_dir, capsys):
    """`entrobust regress` on the CI bench's results.csv gives the same verdict and numbers."""
    argv = ["regress", "--results", str(work_dir), "--baseline", str(BASELINE)]
    code = main([*argv, "--modes", "white-box"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert read_results(work_dir, ("white-box",)).keys() == values.keys()
    assert {
        k: round(m.mean, 2) for k, m in read_results(work_dir, ("white-box",)).items()
    } == values


def test_regress_catches_a_planted_three_point_regression(values, work_dir, tmp_path, capsys):
    bench = tmp_path / "digits"
    shutil.copytree(work_dir / "digits", bench)
    argv = ["regress", "--results", str(bench), "--baseline", str(tmp_path / "b.json")]
    assert main([*argv, "--update", "--tol", "2", "--modes", "white-box"]) == 0
    results = bench / "results.csv"
    rows = list(csv.DictReader(io.StringIO(results.read_text())))
    for r in rows:
        if (r["defense"], r["mode"], r["attack"]) == ("pat", "white-box", "pgd10-32"):
            r["accuracy"] = repr(float(r["accuracy"]) - 0.03)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    results.write_text(buf.getvalue())
    capsys.readouterr()
    assert main([*argv, "--modes", "white-box"]) == 1
    out = capsys.readouterr().out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL digits/pat/pgd10-32: "), out


def test_directions_hold(values):
    assert any(k.startswith("digits/") for k in values)
    failures = directions(values, str(SHARED_DATASETS))
    assert not failures, "\n".join(map(str, failures))


def test_regression_fails_when_a_number_leaves_its_tolerance():
    baseline = {
        "cells": {
            "digits/pat/pgd10-32": {"value": 75.0, "tol": 3.0},
            "digits/pat/clean": {"value": 97.0, "tol": 2.0},
        }
    }
    assert compare({"digits/pat/pgd10-32": 77.9, "digits/pat/clean": 96.0}, baseline) == []
    failures = compare({"digits/pat/pgd10-32": 78.1, "digits/pat/clean": 96.0}, baseline)
    assert [f.cell for f in failures] == ["digits/pat/pgd10-32"]
    assert [f.cell for f in compare({"digits/pat/clean": 96.0}, baseline)] == [
        "digits/pat/pgd10-32"
    ]
    new = compare(
        {"digits/pat/pgd10-32": 75.0, "digits/pat/clean": 97.0, "digits/x/clean": 1.0}, baseline
    )
    assert [f.message for f in new] == ["not in the baseline (update it deliberately)"]


def test_direction_check_catches_a_useless_defense():
    vals = {
        "digits/normal/pgd10-32": 25.0,
        "digits/pat/pgd10-32": 30.0,
        "digits/pat/clean": 90.0,
        "digits/pat/fgsm32": 95.0,
    }
    cells = {f.cell for f in directions(vals)}
    assert cells == {"digits/pat/pgd10-32", "digits/pat/fgsm32"}
