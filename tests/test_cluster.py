"""Many processes on one --out and --runs-dir: the cluster recipe of docs/bench.md, for real.

Every test here starts real concurrent ``entrobust`` processes (digits, ``ci`` profile, one
epoch on 200 images): the job array's training phase (``bench --train-only --shard i/n``), its
attack phase (``--shard i/n``) and ``--merge`` give the single-process results with each model
trained exactly once; two benches sharing an ``--out`` lose nothing; a run's lock left by a
SIGKILLed trainer is recovered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from entrobust.training import make_config, train
from entrobust.training.runner import lock_path, run_dir_for

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # same thread count everywhere: same numbers
SMALL = ["--profile", "ci", "--epochs", "1", "--train-size", "200", "--test-size", "60"]
ATTACKS = ["--attacks", "clean,fgsm16,pgd5-16,bb:fgsm16"]


def _bench(tmp: Path, *extra: str, runs: str = "runs", defenses: str = "normal,entm,pat"):
    """The argv of one ``entrobust bench`` worker (cwd: ``tmp``)."""
    return [
        sys.executable,
        "-m",
        "entrobust",
        "bench",
        "--dataset",
        "digits",
        "--defenses",
        defenses,
        *SMALL,
        *ATTACKS,
        "--device",
        "cpu",
        "--no-progress",
        "--runs-dir",
        runs,
        *extra,
    ]


def _together(tmp: Path, *argvs: list[str]) -> list[str]:
    """Run the commands concurrently in ``tmp``; their stdout + stderr (each must succeed)."""
    procs = [
        subprocess.Popen(
            a, cwd=tmp, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for a in argvs
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(out + err)
    return outs


def _trained(outputs: list[str]) -> list[str]:
    """Every run name the ``models: trained N (…)`` lines of ``outputs`` name."""
    names = []
    for out in outputs:
        for m in re.finditer(r"^models: trained \d+ \(([^)]*)\)", out, re.M):
            names += [n for n in m.group(1).split(", ") if n != "-"]
    return names


def test_cluster_recipe_trains_each_model_once_and_merges_to_a_single_run(tmp_path):
    out = ["--out", "shared/results"]
    # 1. the training phase, spread over 2 concurrent workers
    train_outs = _together(
        tmp_path, *(_bench(tmp_path, "--train-only", "--shard", f"{i}/2", *out) for i in (0, 1))
    )
    runs = sorted(p.parent.name for p in (tmp_path / "runs").glob("*/metrics.json"))
    assert len(runs) == 5  # normal, entm, pat + the black-box proxies normal, pat (seed 1000)
    assert sorted(_trained(train_outs)) == runs  # each model trained once, by one worker
    assert not (tmp_path / "shared").exists()  # --train-only evaluates and writes nothing
    # 2. the attack phase: 2 concurrent shards, nothing trained again
    attack_outs = _together(
        tmp_path, *(_bench(tmp_path, "--shard", f"{i}/2", *out) for i in (0, 1))
    )
    assert _trained(attack_outs) == []
    # 3. merge, then compare with one process doing everything in fresh directories
    (merged,) = _together(tmp_path, _bench(tmp_path, "--merge", *out))
    (whole,) = _together(tmp_path, _bench(tmp_path, "--out", "whole", runs="runs-whole"))
    shared = tmp_path / "shared" / "results"
    assert (shared / "results.csv").read_text() == (tmp_path / "whole" / "results.csv").read_text()
    assert (shared / "table.md").read_text() == (tmp_path / "whole" / "table.md").read_text()
    assert len(_trained([whole])) == 5
    assert (shared / "table.md").read_text().strip() in merged  # --merge prints the table


def test_two_benches_on_one_out_lose_nothing_and_train_a_shared_proxy_once(tmp_path):
    outs = _together(
        tmp_path,
        _bench(tmp_path, "--out", "res", defenses="normal"),
        _bench(tmp_path, "--out", "res", defenses="entm"),
    )
    text = (tmp_path / "res" / "results.csv").read_text()
    rows = text.splitlines()[1:]
    assert len(rows) == 2 * 4  # both defenses' cells: clean, fgsm16, pgd5-16, bb:fgsm16
    assert {r.split(",")[2] for r in rows} == {"normal", "entm"}
    trained = _trained(outs)
    proxy = make_config("digits", "normal", profile="ci", seed=1000, epochs=1, train_size=200,
                        test_size=60).run_name  # fmt: skip
    assert trained.count(proxy) == 1  # both need it: one trains it, the other waits and reuses
    timings = (tmp_path / "res" / "timings.json").read_text()
    assert timings.count("|normal|") == 4 and timings.count("|entm|") == 4


def test_lock_of_a_sigkilled_trainer_is_recovered(tmp_path):
    cfg = make_config("digits", "normal", profile="ci", epochs=60, train_size=500, test_size=60)
    runs = tmp_path / "runs"
    lock = lock_path(run_dir_for(cfg, runs))
    proc = subprocess.Popen(
        [sys.executable, "-m", "entrobust", "train", "--dataset", "digits", "--defense",
         "normal", "--profile", "ci", "--epochs", "60", "--train-size", "500", "--test-size",
         "60", "--device", "cpu", "--no-progress", "--runs-dir", str(runs)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        held, deadline = False, time.monotonic() + 60
        while not held and time.monotonic() < deadline and proc.poll() is None:
            if lock.exists():
                try:
                    with FileLock(str(lock)).acquire(timeout=0):
                        pass
                except Timeout:
                    held = True  # the trainer holds its run's lock
            time.sleep(0.02)
        assert held, "the trainer never held its run's lock"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (run_dir_for(cfg, runs) / "metrics.json").exists()  # killed mid-training
    with FileLock(str(lock)).acquire(timeout=5):  # the kernel released the dead holder's lock
        pass
    t0 = time.monotonic()
    run = train(cfg, runs_dir=runs, device="cpu", progress=False)  # resumes or restarts
    assert run.metrics["status"] == "complete" and not run.cached
    assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_bench_under_torchrun_trains_with_ddp_and_rank_0_alone_reports(tmp_path):
    argv = _bench(tmp_path, "--out", "res", defenses="normal")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", "29541", *argv[1:]]  # fmt: skip
    (out,) = _together(tmp_path, torchrun)
    assert out.count("| mode | attack |") == 1  # one table: rank 0's
    assert len(_trained([out])) == 2  # the defense and its proxy, each by both ranks at once
    assert len((tmp_path / "res" / "results.csv").read_text().splitlines()) == 1 + 4


def test_job_options_that_mean_nothing_are_one_line_before_any_work(tmp_path, capsys):
    from entrobust.cli.main import main

    cases = [
        (["bench", "--dataset", "digits", "--defenses", "normal", "--train-only", "--merge"],
         "--train-only trains and --merge reports"),
        (["reproduce", "--table", "9", "--merge", "--shard", "0/2"], "drop --shard"),
        (["reproduce", "--table", "9", "--merge", "--out", str(tmp_path / "none")],
         "no results-shard*.csv or results.csv"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()
