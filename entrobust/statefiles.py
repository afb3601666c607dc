"""Reading state files without trusting them: JSON that may be torn, foreign or hand-edited.

Two kinds of state file:

* **records** (``metrics.json``, ``attacks.json``, ``final.pt``): not derivable from anything
  else, so a bad one is refused with a :class:`~entrobust.errors.StateFileError` naming the
  file and saying what to do — never silently overwritten;
* **derived** files (``timings.json``, ``plan.json``, ``config.json``): rebuilt from what the
  command knows, with one warning line.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.json"
    >>> _ = path.write_text("[1, 2]")
    >>> read_json(path, remedy="delete the run directory to retrain")
    Traceback (most recent call last):
    ...
    entrobust.errors.StateFileError: .../metrics.json is a JSON list, not an object; delete the run directory to retrain
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from entrobust.atomic import warn, write_json
from entrobust.errors import StateFileError

#: A JSON state file larger than this is refused unread (ours are kilobytes).
MAX_JSON_BYTES = 64 * 2**20

Check = Callable[[Any], "str | None"]

_JSON_TYPES = {dict: "an object", list: "a list"}


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON list"
    return f"a JSON {type(value).__name__}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _problem(path: Path, expect: type, check: Check | None) -> tuple[Any, str | None]:
    """``(value, None)`` for a good file, ``(None, what is wrong)`` otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            return None, f"is {size} bytes, more than a state file can be ({MAX_JSON_BYTES})"
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        return None, "is a directory, not a file"
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except OSError as err:
        return None, f"cannot be read ({err.strerror or type(err).__name__})"
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as err:  # JSONDecodeError is a ValueError
        first = str(err).splitlines()[0][:100] if str(err) else "empty"
        return None, f"is not valid JSON ({first})"
    if not isinstance(value, expect):
        return None, f"is {_kind(value)}, not {_JSON_TYPES.get(expect, expect.__name__)}"
    problem = check(value) if check else None
    return (None, problem) if problem else (value, None)


def read_json(
    path: str | os.PathLike,
    *,
    remedy: str,
    expect: type = dict,
    check: Check | None = None,
) -> Any:
    """Parse a record state file; anything wrong is one :class:`StateFileError` line.

    Args:
        path: the file (it must exist).
        remedy: what the user should do, appended to the message.
        expect: the top-level JSON type (``dict`` or ``list``).
        check: ``value -> problem or None``, for the file's shape beyond the top level.
    """
    path = Path(path)
    value, problem = _problem(path, expect, check)
    if problem:
        raise StateFileError(f"{path} {problem}; {remedy}")
    return value


def read_derived_json(
    path: str | os.PathLike,
    default: Callable[[], Any] = dict,
    *,
    expect: type = dict,
    check: Check | None = None,
) -> Any:
    """Parse a derived state file; a missing one gives ``default()``, a bad one a warning too.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "timings.json"
        >>> _ = path.write_text("{torn")
        >>> read_derived_json(path, check=numbers_only)  # warns on stderr
        {}
    """
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return default()
    value, problem = _problem(path, expect, check)
    if problem:
        warn(f"{path} {problem}; rebuilding it")
        return default()
    return value


def rewrite_derived_json(path: str | os.PathLike, value: Any) -> None:
    """Write a derived file, warning first when what is there is broken or different.

    A file that already holds ``value`` is not touched.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        old, problem = _problem(path, type(value), None)
        if problem:
            warn(f"{path} {problem}; rebuilding it")
        elif old != json.loads(json.dumps(value)):
            warn(f"{path} did not match this run; rewriting it")
    write_json(path, value)


def numbers_only(value: Any) -> str | None:
    """A :data:`Check`: every value of the object is a finite number (``timings.json``)."""
    for key, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"has a non-number under {key!r}"
    return None


def fraction_field(field: str) -> Check:
    """A :data:`Check`: every entry is an object whose ``field`` is a number in [0, 1]."""

    def check(value: Any) -> str | None:
        for key, entry in value.items():
            acc = entry.get(field) if isinstance(entry, dict) else None
            if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
                return f"has an entry {key!r} whose {field} is not a number in [0, 1]"
        return None

    return check


def check_run_dir(run_dir: str | os.PathLike) -> Path:
    """Refuse a run directory that is a symbolic link (runs are written into; links are not
    followed). Returns the path.

    Example:
        >>> import tempfile, pathlib, os
        >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "real").mkdir()
        >>> os.symlink(d / "real", d / "run")
        >>> check_run_dir(d / "run")
        Traceback (most recent call last):
        ...
        entrobust.errors.StateFileError: run directory .../run is a symbolic link ...
    """
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        raise StateFileError(
            f"run directory {run_dir} is a symbolic link (to {os.readlink(run_dir)}); entrobust "
            "does not follow links in run directories: pass the real directory, or replace the "
            "link with the directory itself"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise StateFileError(f"run directory {run_dir} is a file; move it away")
    return run_dir
