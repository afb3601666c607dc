"""The files of a run directory, read without trusting them (loading a run or a checkpoint
given by path: :mod:`entrobust.training.rundir`).

* ``metrics.json`` marks a finished run: a bad one is refused (one line naming it), never
  silently retrained over — it records the history and accuracy of a finished training;
* ``final.pt`` must be the documented checkpoint format (below), else one line says what it is;
* ``config.json`` is derived from the config: a bad or different one is rewritten with a
  warning.

The checkpoint format (``final.pt``, what ``entrobust attack --checkpoint FILE`` loads): a
``torch.save``'d dict holding only tensors and plain types (``torch.load(weights_only=True)``):

====================  =====================================================================
key                   content
====================  =====================================================================
``model``             the model's ``state_dict()``
``config``            ``TrainConfig.to_dict()`` (architecture, dataset, defense, ...)
``spec``              the dataset spec (``spec_to_dict``): classes, shape, normalization
====================  =====================================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from entrobust.errors import CheckpointError
from entrobust.statefiles import check_run_dir, read_json

#: The keys of an entrobust checkpoint (``final.pt``).
FINAL_KEYS = ("model", "config", "spec")


def _metrics_problem(value: dict[str, Any]) -> str | None:
    if value.get("status") != "complete":
        return f"has status {value.get('status')!r}, not 'complete'"
    acc = value.get("clean_accuracy")
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
        return "has no clean_accuracy in [0, 1]"
    if not isinstance(value.get("history", []), list):
        return "has a history that is not a list"
    return None


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """A run's ``metrics.json``, checked; ``None`` when there is none.

    Raises:
        StateFileError: not JSON, or not a finished run's metrics (one line: restore the file,
            or delete the run directory to retrain).
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not (path.exists() or path.is_symlink()):
        return None
    return read_json(
        path,
        remedy=f"it marks a finished run: restore it, or delete {run_dir} to retrain",
        check=_metrics_problem,
    )


def check_final_payload(payload: Any, path: Path, remedy: str) -> dict[str, Any]:
    """``payload`` if it is an entrobust checkpoint (a dict with :data:`FINAL_KEYS`).

    Raises:
        CheckpointError: one line saying what the file is instead (a mid-training
            ``checkpoint.pt``, a bare ``state_dict``, another dict) and ``remedy``.
    """
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"{path} holds a {type(payload).__name__}, not an entrobust checkpoint (a dict with "
            f"{', '.join(FINAL_KEYS)}; see docs/training.md); {remedy}"
        )
    missing = [k for k in FINAL_KEYS if k not in payload]
    if not missing:
        return payload
    if "config_hash" in payload and "optimizer" in payload:
        what = "a training checkpoint of an unfinished run (checkpoint.pt), not a finished model"
        remedy = "rerun its `entrobust train` command to finish it, then use its final.pt"
    elif payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        what = "a bare state_dict without the config and dataset spec that say which model it is"
    else:
        what = f"not an entrobust checkpoint: it lacks {', '.join(repr(k) for k in missing)}"
    raise CheckpointError(
        f"{path} is {what} (an entrobust checkpoint holds {', '.join(FINAL_KEYS)}; see "
        f"docs/training.md); {remedy}"
    )


def data_dir_hint(data_dir: str | os.PathLike | None) -> str | None:
    """The absolute form of the data directory a run is trained from (stored in its metrics).

    Example:
        >>> data_dir_hint("/data/sets")
        '/data/sets'
    """
    return None if data_dir is None else str(Path(data_dir).expanduser().resolve())


#: The environment variable that sets the default data directory of every command.
DATA_ENV = "ENTROBUST_DATA"


def default_data_dir() -> str:
    """``$ENTROBUST_DATA`` if set (and not empty), else ``data``."""
    return os.environ.get(DATA_ENV) or "data"


def data_dir_for(explicit: str | None, metrics: dict[str, Any] | None) -> str:
    """The data directory for evaluating a run: ``explicit``, the run's own (while it still
    exists), or :func:`default_data_dir`."""
    if explicit:
        return explicit
    return remembered_data_dir(dict(metrics or {})) or default_data_dir()


def remembered_data_dir(metrics: dict[str, Any]) -> str | None:
    """The data directory a run was trained from, if recorded and still a directory."""
    hint = metrics.get("data_dir") if isinstance(metrics, dict) else None
    return hint if isinstance(hint, str) and Path(hint).is_dir() else None


__all__ = [
    "DATA_ENV",
    "FINAL_KEYS",
    "check_final_payload",
    "check_run_dir",
    "data_dir_for",
    "data_dir_hint",
    "default_data_dir",
    "read_metrics",
    "remembered_data_dir",
]
