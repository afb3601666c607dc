"""The bench: planning, resumable cells, SIGKILL-safe results, tables, shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entrobust.attacks import AttackOptions
from entrobust.bench.grid import BLACK, WHITE, Row, default_rows, rows_from_names
from entrobust.bench.results import ResultsFile
from entrobust.bench.runner import Shard, merge_shards, plan_bench, run_bench
from entrobust.bench.table import build_table, to_latex, to_markdown
from entrobust.data import get_dataset_spec
from entrobust.errors import InvalidValueError, UnknownNameError

SMALL = dict(epochs=1, train_size=100, test_size=40)
ATTACKS = ["clean", "fgsm16", "pgd3-16", "cw3-16", "bb:pgd3-16"]


def _plan(defenses=("normal", "pat", "adp")):
    return plan_bench(
        "digits", list(defenses), profile="ci", rows=rows_from_names(ATTACKS), overrides=SMALL
    )


def test_default_rows_are_the_papers():
    rows = default_rows(get_dataset_spec("cifar10"))
    labels = [r.label for r in rows]
    assert labels[:3] == ["white-box clean", "white-box fgsm4", "white-box pgd10-4"]
    assert "white-box cw40-16" in labels and "black-box pgd20-8" in labels
    assert "black-box pgd10-16" not in labels
    mnist = [r.label for r in default_rows(get_dataset_spec("mnist"))]
    assert "black-box pgd20-48" in mnist and not any("cw" in m for m in mnist)


def test_plan_counts_models_cells_and_skips_cw_on_adp():
    plan = _plan()
    assert plan.models == 5  # normal, pat, adp + proxies normal(s1000), pat(s1000)
    attacks = {(c["defense"], c["attack"]) for c in plan.cells}
    assert ("adp", "cw3-16") not in attacks and ("pat", "cw3-16") in attacks
    assert plan.proxies[("pat", 0)].defense == "pat" and plan.proxies[("pat", 0)].seed == 1000
    assert plan.proxies[("adp", 0)].defense == "normal"


def test_plan_rejects_bad_names_before_work():
    with pytest.raises(UnknownNameError):
        plan_bench("digits", ["pat", "madry"], profile="ci")
    with pytest.raises(InvalidValueError, match="800/255"):
        plan_bench("digits", ["pat"], profile="ci", rows=rows_from_names(["pgd10-800"]))


def test_bench_runs_and_rerun_does_nothing(tmp_path, monkeypatch):
    plan = _plan(("normal", "pat"))
    kw = dict(
        out_dir=tmp_path / "out",
        runs_dir=tmp_path / "runs",
        progress=False,
        device="cpu",
        options=AttackOptions(restarts=1),
    )
    first = run_bench(plan, **kw)
    rows = ResultsFile(first.results_path).rows
    assert len(rows) == len(plan.cells) == 10
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    assert "| white-box | pgd3-16 |" in first.markdown
    for suffix in ("md", "csv", "tex"):
        assert (tmp_path / "out" / f"table.{suffix}").is_file()
    import entrobust.bench.runner as runner

    monkeypatch.setattr(runner, "robust_accuracy", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(runner, "train", lambda *a, **k: pytest.fail("retrained"))
    again = run_bench(plan, **kw)
    assert again.markdown == first.markdown


def test_shards_merge_to_the_unsharded_table(tmp_path):
    plan = _plan(("normal", "pat"))
    kw = dict(
        runs_dir=tmp_path / "runs", progress=False, device="cpu", options=AttackOptions(restarts=1)
    )
    whole = run_bench(plan, out_dir=tmp_path / "whole", **kw)
    for i in range(2):
        run_bench(plan, out_dir=tmp_path / "sharded", shard=Shard(i, 2), **kw)
    a = ResultsFile(tmp_path / "sharded" / "results-shard0of2.csv").rows
    b = ResultsFile(tmp_path / "sharded" / "results-shard1of2.csv").rows
    assert len(a) + len(b) == len(plan.cells) and not (
        {tuple(r.values()) for r in a} & {tuple(r.values()) for r in b}
    )
    merged = merge_shards(plan, tmp_path / "sharded")
    assert merged.markdown == whole.markdown
    assert (tmp_path / "sharded" / "results.csv").read_text() == whole.results_path.read_text()


def test_sigkill_mid_grid_then_rerun_equals_uninterrupted(tmp_path):
    base = [
        sys.executable,
        "-m",
        "entrobust",
        "bench",
        "--dataset",
        "digits",
        "--defenses",
        "normal,pat",
        "--attacks",
        ",".join(ATTACKS),
        "--profile",
        "ci",
        "--restarts",
        "2",
        "--no-progress",
        "--device",
        "cpu",
    ]
    args = [*base, "--runs-dir", str(tmp_path / "runs")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Uninterrupted reference (own runs dir too, so nothing is shared).
    ref = subprocess.run(
        [*base, "--runs-dir", str(tmp_path / "ref-runs"), "--out", str(tmp_path / "ref")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*args, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    results = out / "results.csv"
    deadline = time.time() + 240
    while time.time() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = results.read_text().splitlines()
    assert 4 <= len(partial) < 11, "the kill must land mid-grid"
    rerun = subprocess.run(
        [*args, "--out", str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert results.read_text() == (tmp_path / "ref" / "results.csv").read_text()


def test_table_markup_bold_and_italics():
    rows = [Row(WHITE, "pgd10-8"), Row(BLACK, "pgd10-8")]
    res = [
        dict(mode=WHITE, attack="pgd10-8", defense="entm", accuracy="0.60"),
        dict(mode=BLACK, attack="pgd10-8", defense="entm", accuracy="0.40"),
        dict(mode=WHITE, attack="pgd10-8", defense="pat", accuracy="0.50"),
        dict(mode=WHITE, attack="pgd10-8", defense="pat", accuracy="0.52"),
        dict(mode=BLACK, attack="pgd10-8", defense="pat", accuracy="0.70"),
    ]
    t = build_table(res, rows, ["entm", "pat"], num_classes=10)
    md = to_markdown(t)
    assert "| white-box | pgd10-8 | ***60.00*** | 51.00 ± 1.41 |" in md
    assert "| black-box | pgd10-8 | 40.00 | **70.00** |" in md
    assert r"\textbf{\textit{60.00}}" in to_latex(t)


def test_bold_needs_better_than_chance():
    t = build_table(
        [dict(mode=WHITE, attack="pgd40-8", defense="normal", accuracy="0.05")],
        [Row(WHITE, "pgd40-8")],
        ["normal"],
        num_classes=10,
    )
    assert not t.cell(Row(WHITE, "pgd40-8"), "normal").bold


def test_shard_parse_errors():
    with pytest.raises(InvalidValueError):
        Shard.parse("2/2")
    with pytest.raises(InvalidValueError):
        Shard.parse("a/b")


def test_bench_cli_prints_table(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "entrobust",
            "bench",
            "--dataset",
            "digits",
            "--defenses",
            "normal",
            "--attacks",
            "clean,fgsm16",
            "--profile",
            "ci",
            "--runs-dir",
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "| white-box | fgsm16 |" in res.stdout
    assert Path(tmp_path / "o" / "results.csv").is_file()
