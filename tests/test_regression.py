"""CI regression of robust accuracy against tests/baselines/regression.json.

Update the baseline deliberately with
``python -m entrobust.bench.regression --update --data-dir ../shared/datasets``.
"""

from __future__ import annotations

import json

import pytest

from entrobust.bench.regression import BASELINE, compare, directions, run_regression

from .conftest import SHARED_DATASETS


@pytest.fixture(scope="module")
def values(tmp_path_factory):
    data_dir = SHARED_DATASETS if SHARED_DATASETS.is_dir() else tmp_path_factory.mktemp("nodata")
    return run_regression(data_dir, tmp_path_factory.mktemp("regression"))


def test_numbers_within_baseline_tolerances(values):
    failures = compare(values, json.loads(BASELINE.read_text()))
    assert not failures, "\n".join(map(str, failures))


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
