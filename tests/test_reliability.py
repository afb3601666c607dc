"""Issue 11, items 3–7: state files never trusted blindly, options validated before any work,
resource bombs refused, ``attack --checkpoint``, truthful refusals, killed writes cleaned up.

Every case here is a row of docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from entrobust import atomic
from entrobust.atomic import clean_stale_temps, json_safe, write_json, write_text
from entrobust.checkpoint import load_checkpoint
from entrobust.errors import CheckpointError, StateFileError, StateWriteError
from entrobust.statefiles import (
    check_run_dir,
    numbers_only,
    read_derived_json,
    read_json,
    rewrite_derived_json,
)


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# ------------------------------------------------------------------ item 3: writes, NaN


def test_write_json_refuses_nan_and_infinity_naming_the_key(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(ValueError, match=r"history\[1\]\.loss = nan"):
        write_json(path, {"history": [{"loss": 1.0}, {"loss": float("nan")}]})
    with pytest.raises(ValueError, match="inf"):
        write_json(path, {"x": float("-inf")})
    assert not path.exists()
    write_json(path, json_safe({"x": float("inf"), "y": [float("nan"), 0.5]}))
    assert json.loads(path.read_text()) == {"x": None, "y": [None, 0.5]}
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()


def test_unchanged_file_is_not_rewritten_so_read_only_dirs_work(tmp_path, monkeypatch):
    path = tmp_path / "table.md"
    write_text(path, "| a |\n")
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    write_text(path, "| a |\n")  # same bytes: nothing to write, no error
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (inode, mtime)
    with pytest.raises(
        StateWriteError, match=r"cannot write .*table\.md \(Read-only file system\)"
    ):
        write_text(path, "| b |\n")
    assert isinstance(StateWriteError("x"), OSError)  # callers catching OSError still do


# ------------------------------------------------------------------ item 7: killed writes

_KILLED_WRITER = """
import sys, time
from entrobust.atomic import atomic_write
def write(f):
    f.write(b"half of a checkpoint")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def test_temp_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "final.pt"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and str(proc.pid) in leftovers[0].name
    assert not target.exists()
    write_text(tmp_path / "other.txt", "x")  # another file's write leaves it alone
    write_text(target, "early")  # within the grace period (another pid namespace?): kept
    assert leftovers[0].exists()
    past = time.time() - atomic.DEAD_WRITER_GRACE - 5
    os.utime(leftovers[0], (past, past))
    # a live writer's temp file (this process) and an unrelated dotfile are kept
    mine = tmp_path / f".final.pt.{atomic._host()}-{os.getpid()}.live.tmp"
    mine.write_bytes(b"in progress")
    other = tmp_path / ".notes.tmp"
    other.write_text("user's")
    write_text(target, "done")
    assert target.read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".notes.tmp", mine.name, "final.pt", "other.txt"]
    )


def test_old_temp_files_are_stale_whatever_their_host(tmp_path):
    old = tmp_path / ".results.csv.otherhost-1.abcd.tmp"
    fresh = tmp_path / ".results.csv.otherhost-2.efgh.tmp"
    for p in (old, fresh):
        p.write_text("torn")
    past = time.time() - atomic.STALE_SECONDS - 60
    os.utime(old, (past, past))
    assert clean_stale_temps(tmp_path) == [old]
    assert fresh.exists()  # another host's writer may still be alive


# ------------------------------------------------------------------ item 3: JSON state files


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{torn", "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not UTF-8"),
        (b"[1, 2]", "is a JSON list, not an object"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'"text"', "is a JSON str, not an object"),
    ],
)
def test_record_json_is_refused_with_the_file_and_what_to_do(tmp_path, content, needle):
    path = tmp_path / "attacks.json"
    path.write_bytes(content)
    with pytest.raises(StateFileError) as exc:
        read_json(path, remedy="move it away")
    assert str(path) in str(exc.value) and needle in str(exc.value)
    assert str(exc.value).endswith("move it away")
    assert path.read_bytes() == content  # never overwritten


def test_record_json_that_is_a_directory(tmp_path):
    (tmp_path / "metrics.json").mkdir()
    with pytest.raises(StateFileError, match="is a directory"):
        read_json(tmp_path / "metrics.json", remedy="x")


def test_derived_json_is_rebuilt_with_one_warning(tmp_path, capsys):
    path = tmp_path / "timings.json"
    assert read_derived_json(path) == {}  # missing: no warning
    assert capsys.readouterr().err == ""
    for bad in (b"{torn", b"[]", b'{"cell": "fast"}'):
        path.write_bytes(bad)
        assert read_derived_json(path, check=numbers_only) == {}
        line = _one_line(capsys.readouterr().err)
        assert "warning" in line and str(path) in line and "rebuilding" in line
    path.write_text('{"cell": 1.5}')
    assert read_derived_json(path, check=numbers_only) == {"cell": 1.5}
    plan = tmp_path / "plan.json"
    plan.write_text("{torn")
    rewrite_derived_json(plan, {"dataset": "digits"})
    assert "rebuilding" in _one_line(capsys.readouterr().err)
    assert json.loads(plan.read_text()) == {"dataset": "digits"}
    rewrite_derived_json(plan, {"dataset": "digits"})
    assert capsys.readouterr().err == ""


def test_symlinked_run_directory_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    link = tmp_path / "runs" / "digits-tiny-normal-s0-abc"
    link.parent.mkdir()
    link.symlink_to(real)
    with pytest.raises(StateFileError, match="is a symbolic link"):
        check_run_dir(link)
    assert check_run_dir(real) == real


# ------------------------------------------------------------------ item 7: truthful refusals


class _Foreign:
    pass


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: torch.save({"model": _Foreign()}, p), "is not a weights-only checkpoint"),
        (lambda p: p.write_bytes(pickle.dumps(_Foreign())), "is not a weights-only checkpoint"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"PK\x03\x04 half a zip"), "is truncated or corrupt"),
        (lambda p: p.write_bytes(b"hello world"), "is corrupt or not a PyTorch file"),
    ],
)
def test_refused_checkpoint_is_described_truthfully(tmp_path, make, needle):
    path = tmp_path / "model.pt"
    make(path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    message = str(exc.value)
    assert needle in message and "delete" not in message and "\n" not in message
    assert path.read_bytes() == before
    with pytest.raises(CheckpointError, match=r"delete it to retrain$"):
        load_checkpoint(path, remedy="delete it to retrain")


# ------------------------------------------------------------------ helpers for run-level cases

SMALL = {"epochs": 1, "train_size": 60, "test_size": 30}


def _main(argv: list[str]) -> int:
    from entrobust.cli.main import main

    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished digits run (1 epoch, 60 images), copied per test that damages it."""
    from entrobust.training import train
    from entrobust.training.config import make_config

    runs = tmp_path_factory.mktemp("runs")
    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    return train(cfg, runs_dir=runs, progress=False, device="cpu")


@pytest.fixture
def run_copy(trained, tmp_path):
    import shutil

    dst = tmp_path / "runs" / trained.run_dir.name
    shutil.copytree(trained.run_dir, dst)
    return dst


def _train_argv(runs_dir: Path) -> list[str]:
    return [
        "train", "--dataset", "digits", "--defense", "normal", "--profile", "ci",
        "--epochs", "1", "--train-size", "60", "--test-size", "30",
        "--runs-dir", str(runs_dir), "--device", "cpu", "--no-progress",
    ]  # fmt: skip


# ------------------------------------------------------------------ item 3: run directories


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{torn", "is not valid JSON"),
        (b"[]", "is a JSON list, not an object"),
        (b'{"status": "complete"}', "has no clean_accuracy in [0, 1]"),
        (b'{"status": "complete", "clean_accuracy": NaN}', "NaN is not valid JSON"),
    ],
)
def test_bad_metrics_json_is_one_line_and_never_retrained_over(run_copy, capsys, content, needle):
    metrics = run_copy / "metrics.json"
    metrics.write_bytes(content)
    final = (run_copy / "final.pt").read_bytes()
    assert _main(_train_argv(run_copy.parent)) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(metrics) in line and needle in line and "delete" in line
    assert metrics.read_bytes() == content and (run_copy / "final.pt").read_bytes() == final


def test_final_pt_without_its_keys_is_one_line(run_copy, capsys):
    state = torch.load(run_copy / "final.pt", weights_only=True)["model"]
    torch.save({"model": state}, run_copy / "final.pt")
    assert _main(["attack", "--run", str(run_copy), "--attacks", "clean"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "final.pt is not an entrobust checkpoint: it lacks 'config', 'spec'" in line


def test_config_json_is_derived_and_rebuilt_with_a_warning(tmp_path, capsys):
    from entrobust.training.config import make_config

    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    run_dir = tmp_path / "runs" / cfg.run_name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text("{torn")
    assert _main(_train_argv(tmp_path / "runs")) == 0
    err = capsys.readouterr().err
    line = _one_line(err)
    assert "warning" in line and "config.json is not valid JSON (" in line
    assert line.endswith("rebuilding it")
    assert json.loads((run_dir / "config.json").read_text()) == cfg.to_dict()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["data_dir"] == str(Path("data").resolve())  # the hint of item 6


def test_symlinked_run_directory_is_one_line(run_copy, tmp_path, capsys):
    real = tmp_path / "elsewhere"
    run_copy.rename(real)
    run_copy.symlink_to(real)
    assert _main(_train_argv(run_copy.parent)) == 2
    assert "is a symbolic link" in _one_line(capsys.readouterr().err)
    assert _main(["attack", "--run", str(run_copy), "--attacks", "clean"]) == 2
    assert "is a symbolic link" in _one_line(capsys.readouterr().err)


def test_bad_attacks_json_is_refused_before_any_work(run_copy, capsys):
    (run_copy / "attacks.json").write_text('{"white-box:clean": {"accuracy": 7}}')
    assert _main(["attack", "--run", str(run_copy), "--attacks", "clean"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "attacks.json has an entry 'white-box:clean' whose accuracy is not" in line
    assert "move it away" in line


def test_killed_write_in_a_run_directory_is_cleaned_by_the_next_train(run_copy, capsys):
    stale = run_copy / f".final.pt.{atomic._host()}-999999999.x1y2.tmp"
    stale.write_bytes(b"half")
    past = time.time() - atomic.DEAD_WRITER_GRACE - 5
    os.utime(stale, (past, past))
    assert _main(_train_argv(run_copy.parent)) == 0  # cached run, not retrained
    assert not stale.exists()
    assert "cached run" in capsys.readouterr().out


def test_audit_json_never_holds_nan():
    from entrobust.audit.result import AuditReport, CheckResult

    report = AuditReport([CheckResult("x", "t", "pass", "m", {"gap": float("nan")})])
    with tempfile.TemporaryDirectory() as d:
        write_json(Path(d) / "audit.json", json_safe(report.to_dict()))
        assert json.loads((Path(d) / "audit.json").read_text())["checks"][0]["evidence"] == {
            "gap": None
        }


def test_finished_bench_prints_its_table_on_a_read_only_out(tmp_path, capsys, monkeypatch):
    argv = [
        "bench", "--dataset", "digits", "--defenses", "normal", "--profile", "ci",
        "--attacks", "clean,fgsm8", "--runs-dir", str(tmp_path / "runs"),
        "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress",
    ]  # fmt: skip
    assert _main(argv) == 0
    first = capsys.readouterr().out

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    assert _main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == first


# ------------------------------------------------------------------ item 4: options


def _k(name: str) -> list[str]:
    return ["--attacks", name]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["attack", "--run", "R", "--init-std", "nan"], "--init-std: must be a finite number"),
        (["attack", "--run", "R", "--init-std", "-0.1"], "--init-std: must lie in [0, 1]"),
        (["attack", "--run", "R", "--seed", "-1"], "a seed must lie in [0, 2147483647]"),
        (["attack", "--run", "R", "--seed", str(2**31)], "a seed must lie in"),
        (["attack", "--run", "R", "--device", "mps"], "not available on this machine"),
        (["attack", "--run", "R", "--device", "meta"], "cannot run entrobust"),
        (["attack", "--run", "R", "--restarts", "1000000"], "beyond any experiment"),
        (["attack", "--run", "x" * 300], "longer than the 255"),
        (["attack", "--run", "R", *_k("fgsm0")], "ε = 0 perturbs nothing"),
        (["attack", "--run", "R", *_k("l2pgd20-0")], "ε = 0 perturbs nothing"),
        (["attack", "--run", "R", *_k("pgd0-8")], "0 steps is outside 1..100000"),
        (["attack", "--run", "R", *_k("pgd1000000-8")], "check for a typo"),
        (["attack", "--run", "R", *_k("rs0-8")], "random search needs 1.."),
        (["attack", "--run", "R", *_k("rs100-0")], "ε = 0 perturbs nothing"),
        (["attack", "--run", "R", *_k("rs0")], "unknown attack 'rs0'"),
        (["train", "--dataset", "digits", "--defense", "pat", "--lr-decay", "0"], "(0, 1]"),
        (["train", "--dataset", "digits", "--defense", "pat", "--lr-decay", "1.5"], "(0, 1]"),
        (["train", "--dataset", "digits", "--defense", "pat", "--momentum", "-0.9"], "[0, 1)"),
        (["train", "--dataset", "digits", "--defense", "pat", "--lr", "nan"], "finite"),
        (["train", "--dataset", "digits", "--defense", "pat", "--epochs", "1000000"], "beyond"),
        (["train", "--dataset", "digits", "--defense", "pat", "--at-steps", "999999"], "beyond"),
        (["train", "--dataset", "digits", "--defense", "pat", "--at-eps", "inf"], "finite"),
        (["train", "--dataset", "digits", "--defense", "pat", "--seed", "-5"], "a seed"),
        (["train", "--dataset", "d" * 101, "--defense", "pat"], "1 to 100 characters"),
        (["train", "--dataset", "digits", "--defense", "pat", "--device", "cuda:7"], "cuda:7"),
        (["analyze", "eps-curve", "--run", "R", "--ks", ""], "expected at least one"),
        (["analyze", "eps-curve", "--run", "R", "--ks", "0,8"], "must lie in [1, 255]"),
        (["analyze", "steps-curve", "--run", "R", "--steps", "0"], "must lie in [1, 100000]"),
        (["analyze", "steps-curve", "--run", "R", "--gammas", "1.5"], "must lie in [0, 1]"),
        (["analyze", "surface", "--run", "R", "--radius", "0"], "must be > 0"),
        (["analyze", "surface", "--run", "R", "--radius", "-1"], "must be > 0"),
        (["analyze", "surface", "--run", "R", "--index", ","], "expected at least one"),
        (["analyze", "random-search", "--run", "R", "--eps", "0"], "ε must be > 0"),
        (["analyze", "random-search", "--run", "R", "--eps", "8"], "did you mean 8/255?"),
        (["analyze", "lambda-sweep", "--dataset", "digits", "--lams", ""], "expected at least"),
        (["audit", "--run", "R", "--checks", "bogus"], "unknown check(s) bogus"),
        (["audit", "--run", "R", "--eps", "0"], "ε must be > 0"),
        (["audit", "--run", "R", "--eps", "8"], "did you mean 8/255?"),
    ],
)
def test_bad_option_is_one_line_exit_2_before_any_work(argv, needle, capsys, tmp_path):
    argv = [a if a != "R" else str(tmp_path / "no-such-run") for a in argv]
    assert _main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert needle in line
    assert "no-such-run" not in line  # refused before the run was even looked at


def test_cuda_without_cuda_is_refused(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert _main(["train", "--dataset", "digits", "--defense", "pat", "--device", "cuda"]) == 2
    assert "CUDA is not available here" in _one_line(capsys.readouterr().err)


def test_out_and_runs_dir_pointing_at_a_file(tmp_path, capsys):
    afile = tmp_path / "results.csv"
    afile.write_text("x")
    for argv in (
        ["train", "--dataset", "digits", "--defense", "pat", "--runs-dir", str(afile)],
        ["audit", "--run", "R", "--out", str(afile / "sub")],
        ["analyze", "eps-curve", "--run", "R", "--out", str(afile)],
    ):
        assert _main(argv) == 2
        assert "a file, not a directory" in _one_line(capsys.readouterr().err)
    assert afile.read_text() == "x"


def test_repeated_attack_names_in_any_case_are_one_row(run_copy, capsys):
    code = _main(
        ["attack", "--run", str(run_copy), "--attacks", "clean,CLEAN,fgsm8,FGSM8, fgsm8",
         "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("\nclean ") == 1 and out.count("\nfgsm8 ") == 1
    assert set(json.loads((run_copy / "attacks.json").read_text())) == {
        "white-box:clean",
        "white-box:fgsm8",
    }


def test_seed_list_refuses_empty_and_dedupes():
    import argparse

    from entrobust.cli.argtypes import seed_list

    assert seed_list("2,0,2") == (2, 0)
    for bad in ("", ",", "-1", str(2**31)):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_list(bad)


# ------------------------------------------------------------------ item 5: resource bombs


def _npz_with_header(path: Path, key_shapes: dict[str, tuple[int, ...]]) -> None:
    """An .npz whose .npy headers declare ``key_shapes`` but hold (almost) no data."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w") as zf:
        for key, shape in key_shapes.items():
            import io

            buf = io.BytesIO()
            header = {"descr": "|u1", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(buf, header)
            zf.writestr(f"{key}.npy", buf.getvalue() + b"\x00" * 16)


def test_npz_declaring_a_huge_array_is_refused_before_allocation(tmp_path, monkeypatch):
    from entrobust.data import load_dataset
    from entrobust.errors import InvalidValueError

    path = tmp_path / "bomb.npz"
    _npz_with_header(
        path,
        {"x_train": (10**6, 256, 256, 3), "y_train": (10**6,), "x_test": (1, 8, 8),
         "y_test": (1,)},
    )  # fmt: skip
    assert path.stat().st_size < 2000
    with pytest.raises(InvalidValueError) as exc:
        load_dataset("bomb", data_dir=tmp_path)
    message = str(exc.value)
    assert "x_train declares shape (1000000, 256, 256, 3) of uint8 = 196608000000 bytes" in message
    assert "ENTROBUST_MAX_ARRAY_BYTES" in message
    monkeypatch.setenv("ENTROBUST_MAX_ARRAY_BYTES", "100")
    small = tmp_path / "small.npz"
    _npz_with_header(small, {"x_train": (2, 8, 8)})
    with pytest.raises(InvalidValueError, match=r"128 bytes .* over the 100-byte"):
        load_dataset("small", data_dir=tmp_path)


def test_npz_labels_implying_millions_of_classes_are_refused(tmp_path):
    import numpy as np

    from entrobust.data import load_dataset
    from entrobust.errors import InvalidValueError

    x = np.zeros((4, 8, 8), np.uint8)
    y = np.array([0, 1, 2, 5_000_000], np.int64)
    np.savez(tmp_path / "wide.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(InvalidValueError, match=r"label 5000000, which would mean 5000001 classes"):
        load_dataset("wide", data_dir=tmp_path)


# ------------------------------------------------------------------ item 6: --checkpoint, data


def test_attack_checkpoint_loads_that_file(run_copy, tmp_path, capsys):
    import shutil

    assert _main(["attack", "--checkpoint", str(run_copy / "final.pt"), *_k("clean")]) == 0
    assert (run_copy / "attacks.json").is_file()
    elsewhere = tmp_path / "shared" / "model.pt"
    elsewhere.parent.mkdir()
    shutil.copy(run_copy / "final.pt", elsewhere)
    assert _main(["attack", "--checkpoint", str(elsewhere), *_k("clean")]) == 0
    out = capsys.readouterr().out
    assert "digits/normal seed 0" in out
    assert json.loads((tmp_path / "shared" / "model.attacks.json").read_text())["white-box:clean"][
        "accuracy"
    ] == pytest.approx(
        json.loads((run_copy / "attacks.json").read_text())["white-box:clean"]["accuracy"]
    )


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (
            lambda sd: {"model": sd, "optimizer": {}, "config_hash": "abc", "epoch": 1},
            "is a training checkpoint of an unfinished run (checkpoint.pt)",
        ),
        (lambda sd: dict(sd), "is a bare state_dict without the config and dataset spec"),
        (lambda sd: [1, 2], "holds a list, not an entrobust checkpoint"),
        (lambda sd: {"weights": sd}, "it lacks 'model', 'config', 'spec'"),
    ],
)
def test_attack_checkpoint_refuses_anything_else_truthfully(
    run_copy, tmp_path, capsys, make, needle
):
    sd = torch.load(run_copy / "final.pt", weights_only=True)["model"]
    path = tmp_path / "other.pt"
    torch.save(make(sd), path)
    assert _main(["attack", "--checkpoint", str(path), *_k("clean")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert needle in line and "delete" not in line
    assert not (tmp_path / "other.attacks.json").exists()


def test_attack_checkpoint_foreign_pickle_and_directory(run_copy, tmp_path, capsys):
    path = tmp_path / "someone_elses.pt"
    torch.save({"model": _Foreign()}, path)
    assert _main(["attack", "--checkpoint", str(path), *_k("clean")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is not a weights-only checkpoint" in line and "corrupt" not in line
    assert _main(["attack", "--checkpoint", str(run_copy), *_k("clean")]) == 2
    assert "is a directory (pass --run" in _one_line(capsys.readouterr().err)


def _toy_npz(directory: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 8, 8), dtype=np.uint8)
    y = np.arange(60) % 3
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "toy.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:],
             y_test=y[40:])  # fmt: skip


def test_runs_remember_their_data_dir_and_entrobust_data_is_the_default(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # ./data does not hold toy.npz
    monkeypatch.delenv("ENTROBUST_DATA", raising=False)
    data = tmp_path / "datasets"
    _toy_npz(data)
    train_argv = [
        "train", "--dataset", "toy", "--defense", "normal", "--profile", "ci", "--epochs", "1",
        "--train-size", "30", "--test-size", "15", "--runs-dir", "runs", "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip
    assert _main([*train_argv, "--data-dir", str(data)]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["data_dir"] == str(data.resolve())
    capsys.readouterr()
    # the README's form: no --data-dir, the run's own data directory is used
    assert _main(["attack", "--run", str(run), *_k("clean"), "--device", "cpu"]) == 0
    assert "toy/normal seed 0" in capsys.readouterr().out
    # the data moved: ENTROBUST_DATA points at it, for attack and for train
    moved = tmp_path / "moved"
    data.rename(moved)
    assert _main(["attack", "--run", str(run), *_k("clean"), "--device", "cpu"]) == 2
    assert "toy" in _one_line(capsys.readouterr().err)
    monkeypatch.setenv("ENTROBUST_DATA", str(moved))
    assert _main(["attack", "--run", str(run), *_k("clean"), "--device", "cpu"]) == 0
    assert _main(train_argv) == 0
    assert "cached run, not retrained" in capsys.readouterr().out
