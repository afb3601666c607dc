"""Where commands look for datasets: ``--data-dir``, the run's own, ``$ENTROBUST_DATA``, ``./data``.

Commands that train (``train``, ``bench``, ``reproduce``, ``analyze lambda-sweep``) default to
``$ENTROBUST_DATA`` or ``./data``. Commands that evaluate a trained run (``attack``, ``audit``,
``analyze``) use, when ``--data-dir`` is not given, the directory the run was trained from (a
hint recorded in its ``metrics.json``, used while it still exists), then ``$ENTROBUST_DATA``,
then ``./data``.

Example:
    >>> import os
    >>> os.environ.pop(DATA_ENV, None) and None
    >>> default_data_dir()
    'data'
    >>> data_dir_for(None, {"data_dir": "/nonexistent"})
    'data'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from entrobust.training.runfiles import remembered_data_dir

#: The environment variable that sets the default data directory of every command.
DATA_ENV = "ENTROBUST_DATA"


def default_data_dir() -> str:
    """``$ENTROBUST_DATA`` if set (and not empty), else ``data``."""
    return os.environ.get(DATA_ENV) or "data"


def data_dir_for(explicit: str | None, metrics: Mapping[str, Any] | None) -> str:
    """The data directory for evaluating a run: ``explicit``, the run's own, or the default."""
    if explicit:
        return explicit
    return remembered_data_dir(dict(metrics or {})) or default_data_dir()
