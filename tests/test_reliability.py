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
    with pytest.raises(StateWriteError, match=r"cannot write .*table\.md \(Read-only file system\)"):
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
    # a live writer's temp file (this process) and an unrelated dotfile are kept
    mine = tmp_path / f".final.pt.{atomic._host()}-{os.getpid()}.live.tmp"
    mine.write_bytes(b"in progress")
    other = tmp_path / ".notes.tmp"
    other.write_text("user's")
    write_text(target, "done")
    assert target.read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".notes.tmp", mine.name, "final.pt"]
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
    with pytest.raises(CheckpointError, match="delete it to retrain$"):
        load_checkpoint(path, remedy="delete it to retrain")
