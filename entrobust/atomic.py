"""Atomic file writes: write to a temporary file in the same directory, fsync, rename.

A crash leaves either the old file or the new one, never a torn one. Temporary files are named
``.<name>.<host>-<pid>.<random>.tmp``; one left by a killed writer (its process is gone, or it
is older than :data:`STALE_SECONDS`; after :data:`DEAD_WRITER_GRACE`) is removed by the next write of the same file or by
:func:`clean_stale_temps`. Rewriting a file with the bytes it already holds does not touch it,
so a finished job whose outputs are unchanged also runs in a read-only directory. JSON is
strict: NaN and Infinity are refused (:func:`json_safe` turns them into ``null``).

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_json(path, {"a": 1})
    >>> path.read_text()
    '{\\n  "a": 1\\n}\\n'
    >>> write_json(path, {"a": float("nan")})
    Traceback (most recent call last):
    ...
    ValueError: refusing to write .../x.json: a = nan is not valid JSON; ...
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from entrobust.errors import StateWriteError

#: A temporary file older than this (seconds, by modification time) belongs to a dead writer
#: whatever its name says (an ongoing write touches its file all the time).
STALE_SECONDS = 30 * 60
#: A temporary file whose writer's pid is gone is removed once it is this old (seconds): a
#: margin for writers in another pid namespace that share the host name (containers).
DEAD_WRITER_GRACE = 60

_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[^.]+\.tmp$")
_LEGACY_TMP = re.compile(r"^\.(?P<name>.+)\.[^.]+\.tmp$")  # before pid tags: age rule only


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def _is_stale(entry: os.DirEntry, now: float) -> bool:
    try:
        age = now - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if age > STALE_SECONDS:
        return True
    m = _TMP.match(entry.name)
    return (
        bool(m)
        and age > DEAD_WRITER_GRACE
        and m["host"] == _host()
        and not _pid_alive(int(m["pid"]))
    )


def clean_stale_temps(directory: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove temporary files of killed writes in ``directory`` (only those of ``name`` if given).

    A temporary file is stale when the process that wrote it (same host, pid in its name) is
    gone and the file is older than :data:`DEAD_WRITER_GRACE`, or when it is older than
    :data:`STALE_SECONDS`. Errors (a read-only directory, a file
    removed meanwhile) are ignored. Returns the removed paths.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> tmp = d / f".x.json.{_host()}-999999999.abcd.tmp"
        >>> _ = tmp.write_text("torn"); os.utime(tmp, (time.time() - 120,) * 2)
        >>> [p.name.startswith(".x.json.") for p in clean_stale_temps(d)]
        [True]
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        m = _TMP.match(entry.name)
        if m is None and name is not None:  # untagged names only for a known target file
            m = _LEGACY_TMP.match(entry.name)
        if m is None or (name is not None and m["name"] != name):
            continue
        if entry.is_file(follow_symlinks=False) and _is_stale(entry, now):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def _unwritable(path: Path, err: OSError) -> StateWriteError:
    why = err.strerror or type(err).__name__
    return StateWriteError(
        f"cannot write {path} ({why}); make {path.parent} writable (or free space) or point "
        "the command at another directory (--out / --runs-dir)"
    )


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fileobj)`` on a temporary file, then atomically replace ``path``.

    Raises:
        StateWriteError: the directory cannot be written (read-only, full, a file in the way).
    """
    path = Path(path)
    clean_stale_temps(path.parent, path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{_host()}-{os.getpid()}.", suffix=".tmp"
        )
    except OSError as err:
        raise _unwritable(path, err) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, StateWriteError) and err.errno:
            raise _unwritable(path, err) from None
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data``; a file that already holds exactly ``data`` is left alone."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            clean_stale_temps(path.parent, path.name)
            return
    except OSError:
        pass  # unreadable: try to write it
    atomic_write(path, lambda f: f.write(data))


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN/±Infinity float replaced by ``None`` (JSON's ``null``).

    Example:
        >>> json_safe({"a": [1.0, float("nan")], "b": float("inf")})
        {'a': [1.0, None], 'b': None}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _nonfinite(obj: Any, where: str = "") -> str | None:
    """Where the first NaN/Infinity float in ``obj`` is (``a.b[2]``), or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return f"{where or 'the value'} = {obj}"
    if isinstance(obj, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for key, value in items:
        found = _nonfinite(value, key)
        if found:
            return found
    return None


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON; NaN/Infinity are refused (``ValueError``)."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        where = _nonfinite(obj) or "a value"
        raise ValueError(
            f"refusing to write {path}: {where} is not valid JSON; record it as null "
            "(entrobust.atomic.json_safe) or fix what produced it"
        ) from None
    write_bytes(path, (text + "\n").encode())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write a text file (left alone when it already holds ``text``)."""
    write_bytes(path, text.encode())


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """Atomically ``torch.save`` ``obj``."""
    atomic_write(path, lambda f: torch.save(obj, f))


def warn(message: str) -> None:
    """One warning line on stderr (a derived state file was rebuilt, a stale file removed)."""
    sys.stderr.write(f"entrobust: warning: {message}\n")
