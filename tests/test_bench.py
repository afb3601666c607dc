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
from entrobust.bench.plan import Shard, plan_bench
from entrobust.bench.results import ResultsFile
from entrobust.bench.runner import merge_shards, run_bench
from entrobust.bench.table import build_table, to_latex, to_markdown
from entrobust.data import get_dataset_spec
from entrobust.errors import InvalidValueError, UnknownNameError

SMALL = dict(epochs=1, train_size=100, test_size=40)
ATTACKS = ["clean", "fgsm16", "pgd3-16", "cw3-16", "bb:pgd3-16"]


def _plan(defenses=("normal", "pat", "adp"), **kw):
    return plan_bench(
        "digits",
        list(defenses),
        profile="ci",
        rows=rows_from_names(ATTACKS),
        overrides=SMALL,
        options=kw.pop("options", AttackOptions(restarts=1)),
        **kw,
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
    kw = dict(out_dir=tmp_path / "out", runs_dir=tmp_path / "runs", progress=False, device="cpu")
    first = run_bench(plan, **kw)
    rows = ResultsFile(first.results_path).rows
    assert len(rows) == len(plan.cells) == 10
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    assert "| white-box | pgd3-16 |" in first.markdown
    for suffix in ("md", "csv", "tex"):
        assert (tmp_path / "out" / f"table.{suffix}").is_file()
    import entrobust.bench.runner as runner

    monkeypatch.setattr(runner, "robust_flags", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(runner, "train", lambda *a, **k: pytest.fail("retrained"))
    again = run_bench(plan, **kw)
    assert again.markdown == first.markdown


def test_shards_merge_to_the_unsharded_table(tmp_path):
    plan = _plan(("normal", "pat"))
    kw = dict(runs_dir=tmp_path / "runs", progress=False, device="cpu")
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


def _bench_cmd(runs: Path, out: Path, *extra: str) -> list[str]:
    return [
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
        "--attack-repeats",
        "2",
        "--no-progress",
        "--device",
        "cpu",
        "--runs-dir",
        str(runs),
        "--out",
        str(out),
        *extra,
    ]


def test_sigkill_at_five_points_then_rerun_equals_uninterrupted(tmp_path):
    """White- and black-box cells, repeats, proxies trained mid-grid: killed five times."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = subprocess.run(
        _bench_cmd(tmp_path / "ref-runs", tmp_path / "ref"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ref.returncode == 0, ref.stderr
    expected = (tmp_path / "ref" / "results.csv").read_text()
    total = len(expected.splitlines()) - 1  # 2 defenses × (1 + 1 + 2 + 2 + 2) cells
    assert total == 16
    out = tmp_path / "killed"
    results = out / "results.csv"
    killed_at = []
    for want in (1, 4, 7, 10, 13):  # data lines present before each kill
        proc = subprocess.Popen(
            _bench_cmd(tmp_path / "runs", out),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if results.is_file() and len(results.read_text().splitlines()) - 1 >= want:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(len(results.read_text().splitlines()) - 1)
    assert killed_at == sorted(killed_at) and killed_at[-1] < total, killed_at
    assert any("black-box" in line for line in results.read_text().splitlines())
    rerun = subprocess.run(
        _bench_cmd(tmp_path / "runs", out), env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert results.read_text() == expected


def test_changed_option_computes_new_cells_never_shows_old_ones(tmp_path):
    """--restarts (or any attack option) into an existing --out equals a fresh --out."""
    kw = dict(runs_dir=tmp_path / "runs", progress=False, device="cpu")
    one = _plan(("pat",), options=AttackOptions(restarts=1, init_std=0.05))
    three = _plan(("pat",), options=AttackOptions(restarts=3, init_std=0.05))
    run_bench(one, out_dir=tmp_path / "shared", **kw)
    reused = run_bench(three, out_dir=tmp_path / "shared", **kw)
    fresh = run_bench(three, out_dir=tmp_path / "fresh", **kw)
    assert reused.markdown == fresh.markdown
    rows = ResultsFile(tmp_path / "shared" / "results.csv").rows
    hashes = {r["attack_hash"] for r in rows if r["attack"] == "pgd3-16"}
    assert len(hashes) == 2  # both settings recorded, each under its own identity
    assert {r["attack_hash"] for r in ResultsFile(fresh.results_path).rows} <= {
        r["attack_hash"] for r in rows
    }
    attacks = __import__("json").loads((tmp_path / "shared" / "attacks.json").read_text())
    assert {a["restarts"] for a in attacks.values() if a["name"] == "pgd3-16"} == {1, 3}


def test_cells_do_not_depend_on_order_or_what_ran_before(tmp_path):
    """Each cell alone (its own bench) gives the number it has inside the whole grid."""
    kw = dict(runs_dir=tmp_path / "runs", progress=False, device="cpu")
    whole = ResultsFile(run_bench(_plan(("pat",)), out_dir=tmp_path / "whole", **kw).results_path)
    for name in ("bb:pgd3-16", "pgd3-16"):  # black-box first: its proxy trains before anything
        alone = plan_bench(
            "digits",
            ["pat"],
            profile="ci",
            rows=rows_from_names([name]),
            overrides=SMALL,
            options=AttackOptions(restarts=1),
        )
        got = ResultsFile(run_bench(alone, out_dir=tmp_path / name, **kw).results_path).rows
        assert len(got) == 1
        ref = whole.get(got[0])
        assert ref is not None and ref["accuracy"] == got[0]["accuracy"]


def test_corrupt_transfer_cache_is_recomputed_with_a_warning(tmp_path, capfd):
    kw = dict(runs_dir=tmp_path / "runs", progress=False, device="cpu")
    plan = _plan(("pat",))
    first = run_bench(plan, out_dir=tmp_path / "a", **kw)
    (cache,) = (tmp_path / "a" / "transfer").glob("*.pt")
    import torch

    payload = torch.load(cache, weights_only=True)
    payload["x_adv"] = payload["x_adv"] + 0.5  # outside the ε-ball and [0, 1]
    torch.save(payload, cache)
    second = run_bench(plan, out_dir=tmp_path / "b", **kw)  # its own, clean cache
    assert second.markdown.split("\n", 1)[1] == first.markdown.split("\n", 1)[1]
    import shutil

    shutil.copy(cache, tmp_path / "b" / "transfer" / cache.name)
    (tmp_path / "b" / "results.csv").unlink()
    capfd.readouterr()
    third = run_bench(plan, out_dir=tmp_path / "b", **kw)
    assert "transfer cache" in capfd.readouterr().err
    assert third.markdown == second.markdown


def test_bad_result_rows_are_dropped_and_recomputed(tmp_path, capfd):
    kw = dict(out_dir=tmp_path / "o", runs_dir=tmp_path / "runs", progress=False, device="cpu")
    plan = _plan(("normal",))
    first = run_bench(plan, **kw)
    path = first.results_path
    lines = path.read_text().splitlines()
    bad = lines[2].split(",")
    bad[12] = "1.7"  # accuracy outside [0, 1]
    torn = lines[3][: len(lines[3]) // 2]
    path.write_text(
        "\n".join([lines[0], lines[1], ",".join(bad), torn, *lines[4:], lines[1]]) + "\n"
    )
    capfd.readouterr()
    again = run_bench(plan, **kw)
    assert "bad row(s) dropped" in capfd.readouterr().err
    assert again.markdown == first.markdown
    assert path.read_text() == "\n".join(lines) + "\n"
    path.write_bytes(b"\xff\xfe not a csv")
    third = run_bench(plan, **kw)
    assert third.markdown == first.markdown and (tmp_path / "o" / "results.csv.bad1").is_file()


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


def test_worst_case_rows_are_exact_and_the_cascade_only_attacks_survivors(tmp_path, monkeypatch):
    """worst-case = points surviving every attack at that ε (from the flags, white- and
    black-box and cascade); the cascade attack sees only the survivors; headline from it."""
    import torch

    import entrobust.bench.runner as runner
    from entrobust.bench.grid import CASCADE, worst_row

    seen: list[int] = []
    real = runner.robust_flags

    def spy(model, attack, x, y, batch_size=256, **kw):
        if attack.name.startswith("adaptive"):
            seen.append(len(y))
        return real(model, attack, x, y, batch_size, **kw)

    monkeypatch.setattr(runner, "robust_flags", spy)
    plan = plan_bench(
        "digits",
        ["normal", "pat"],
        profile="ci",
        rows=rows_from_names(["clean", "fgsm16", "pgd3-16", "bb:pgd3-16"]),
        overrides=SMALL,
        options=AttackOptions(restarts=1),
        cascade=True,
        cascade_eps=[16],
    )
    assert [r.label for r in plan.rows if r.mode == CASCADE] == [
        "cascade adaptive3-16",
        "cascade autoattack-16",
    ]
    res = run_bench(
        plan, out_dir=tmp_path / "o", runs_dir=tmp_path / "runs", progress=False, device="cpu"
    )
    results = ResultsFile(res.results_path)
    for defense in ("normal", "pat"):
        rows = [r for r in results.rows if r["defense"] == defense]
        by = {(r["mode"], r["attack"]): results.flags(r) for r in rows}
        survivors = (
            by[("white-box", "fgsm16")]
            & by[("white-box", "pgd3-16")]
            & by[("black-box", "pgd3-16")]
        )
        everything = survivors & by[(CASCADE, "adaptive3-16")] & by[(CASCADE, "autoattack-16")]
        worst = res.table.cell(worst_row(16), defense)
        assert worst.mean == pytest.approx(100 * everything.float().mean().item())
        assert worst.mean <= min(100 * f.float().mean().item() for f in by.values())
        assert int(survivors.sum()) in seen  # the adaptive attack ran on the survivors only
        assert bool((by[(CASCADE, "adaptive3-16")] <= survivors).all())
    assert (
        "| worst-case | eps16 |" in res.markdown
        and "Most robust under the worst case" in res.markdown
    )
    again = run_bench(
        plan, out_dir=tmp_path / "o", runs_dir=tmp_path / "runs", progress=False, device="cpu"
    )
    assert again.markdown == res.markdown and len(seen) == 2  # nothing recomputed
    assert isinstance(seen[0], int) and torch.is_tensor(everything)
