"""``entrobust regress``: tolerances per cell or from measured spread, stated directions,
``--update``, and a planted 3-point regression caught by name."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch

from entrobust.bench.regress import compare, measure, tolerance
from entrobust.bench.results import COLUMNS, ResultsFile
from entrobust.cli.main import main

#: (defense, attack) → accuracy per seed: small spread, AT far above normal under PGD.
CELLS = {
    ("normal", "clean"): (0.95, 0.96, 0.955),
    ("normal", "pgd10-8"): (0.20, 0.21, 0.205),
    ("pat", "clean"): (0.90, 0.905, 0.91),
    ("pat", "pgd10-8"): (0.60, 0.605, 0.595),
}


def write_results(out: Path, seeds=(0, 1, 2)) -> Path:
    """A results.csv (and flags) like a bench's, 100 points per cell."""
    results = ResultsFile(out / "results.csv")
    for (defense, attack), accs in CELLS.items():
        for seed in seeds:
            acc = accs[seed]
            row = dict.fromkeys(COLUMNS, "x")
            row.update(
                dataset="digits",
                arch="cnn4",
                defense=defense,
                seed=seed,
                profile="ci",
                mode="white-box",
                attack=attack,
                repeat=0,
                n=200,
                accuracy=acc,
                proxy="",
                proxy_hash="",
                config_hash=f"{defense}{seed}",
            )
            flags = torch.zeros(200, dtype=torch.bool)
            flags[: round(acc * 200)] = True
            results.add(row, flags)
    return out / "results.csv"


def plant(path: Path, cell: tuple[str, str], delta: float, seeds=None) -> None:
    """Edit results.csv: ``delta`` on the accuracy of ``cell`` (all seeds by default)."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for r in rows:
        if (r["defense"], r["attack"]) == cell and (seeds is None or int(r["seed"]) in seeds):
            r["accuracy"] = repr(float(r["accuracy"]) + delta)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())


def test_baseline_from_three_seeds_stores_mean_and_std(tmp_path, capsys):
    write_results(tmp_path / "bench")
    base = tmp_path / "baseline.json"
    assert (
        main(["regress", "--results", str(tmp_path / "bench"), "--baseline", str(base), "--update"])
        == 0
    )
    doc = json.loads(base.read_text())
    cell = doc["cells"]["digits/pat/pgd10-8"]
    assert cell == {"value": 60.0, "std": 0.5, "seeds": 3}
    assert tolerance(cell, doc["tolerance"]) == (1.5, "3·std")
    assert tolerance(doc["cells"]["digits/normal/clean"], doc["tolerance"]) == (1.5, "3·std")
    assert main(["regress", "--results", str(tmp_path / "bench"), "--baseline", str(base)]) == 0
    assert "everything within tolerance" in capsys.readouterr().out


def test_planted_three_point_regression_fails_naming_the_cell(tmp_path, capsys):
    results = write_results(tmp_path / "bench")
    base = tmp_path / "baseline.json"
    argv = ["regress", "--results", str(tmp_path / "bench"), "--baseline", str(base)]
    assert main([*argv, "--update"]) == 0
    capsys.readouterr()
    plant(results, ("pat", "pgd10-8"), -0.03)  # robust accuracy down by 3 points
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL digits/pat/pgd10-8: 57.00 is outside 60.00 ± 1.50" in out
    assert out.count("FAIL") == 1
    # a wider tolerance from the command line (k = 10 → ± 5 points) lets it through
    assert main([*argv, "--k", "10"]) == 0


def test_single_seed_cells_use_their_own_or_the_default_tolerance(tmp_path, capsys):
    results = write_results(tmp_path / "bench", seeds=(0,))
    base = tmp_path / "baseline.json"
    argv = ["regress", "--results", str(tmp_path / "bench"), "--baseline", str(base)]
    assert main([*argv, "--update", "--tol", "2"]) == 0
    doc = json.loads(base.read_text())
    assert (
        doc["cells"]["digits/pat/pgd10-8"] == {"value": 60.0} and doc["tolerance"]["default"] == 2
    )
    plant(results, ("pat", "pgd10-8"), -0.03, seeds={0})
    assert main(argv) == 1
    assert "FAIL digits/pat/pgd10-8: 57.00 is outside 60.00 ± 2.00" in capsys.readouterr().out
    doc["cells"]["digits/pat/pgd10-8"]["tol"] = 4.0  # a hand-set tolerance for that cell ...
    base.write_text(json.dumps(doc))
    assert main(argv) == 0
    plant(results, ("pat", "pgd10-8"), +0.03, seeds={0})
    assert main([*argv, "--update"]) == 0  # ... survives --update
    assert json.loads(base.read_text())["cells"]["digits/pat/pgd10-8"]["tol"] == 4.0


def test_stated_direction_fails_and_blocks_update(tmp_path, capsys):
    results = write_results(tmp_path / "bench")
    base = tmp_path / "baseline.json"
    argv = ["regress", "--results", str(tmp_path / "bench"), "--baseline", str(base)]
    assert main([*argv, "--update"]) == 0
    doc = json.loads(base.read_text())
    doc["directions"] = [
        {"greater": "digits/pat/pgd10-8", "than": "digits/normal/pgd10-8", "by": 30}
    ]
    base.write_text(json.dumps(doc))
    assert main(argv) == 0
    plant(results, ("normal", "pgd10-8"), +0.15)  # normal catches up: AT is no longer ≫
    capsys.readouterr()
    assert main([*argv, "--k", "100"]) == 1  # within tolerance, but the direction fails
    out = capsys.readouterr().out
    assert "FAIL digits/pat/pgd10-8: 60.00 is not ≥ digits/normal/pgd10-8 (35.50) + 30" in out
    assert main([*argv, "--update"]) == 1
    assert "refusing to update" in capsys.readouterr().out


def test_missing_and_new_cells_fail():
    base = {"cells": {"d/pat/clean": {"value": 90.0}, "d/pat/pgd10-8": {"value": 50.0}}}
    fails = compare({"d/pat/clean": 90.0, "d/pat/cw40-8": 40.0}, base)
    assert [(f.cell, f.message) for f in fails] == [
        ("d/pat/pgd10-8", "missing from this run"),
        ("d/pat/cw40-8", "not in the baseline (update it deliberately)"),
    ]


def test_mixed_profiles_and_missing_results_are_one_line_errors(tmp_path, capsys):
    rows = [
        dict(
            dataset="d",
            arch="a",
            profile=p,
            defense="pat",
            mode="white-box",
            attack="clean",
            seed="0",
            accuracy="0.5",
        )
        for p in ("ci", "quick")
    ]
    with pytest.raises(Exception, match="mix several arch/profile settings"):
        measure(rows)
    code = main(["regress", "--results", str(tmp_path), "--baseline", str(tmp_path / "b.json")])
    assert code == 2
    assert "holds no results.csv" in capsys.readouterr().err
