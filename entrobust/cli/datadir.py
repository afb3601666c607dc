"""Where commands look for datasets: ``--data-dir``, the run's own, ``$ENTROBUST_DATA``, ``./data``.

Commands that train (``train``, ``bench``, ``reproduce``, ``analyze lambda-sweep``) default to
``$ENTROBUST_DATA`` or ``./data``. Commands that evaluate a trained run (``attack``, ``audit``,
``analyze``) use, when ``--data-dir`` is not given, the directory the run was trained from (a
hint recorded in its ``metrics.json``, used while it still exists), then ``$ENTROBUST_DATA``,
then ``./data``.

The rule lives in the library (:mod:`entrobust.training.runfiles`), so that the analysis
pipelines follow it too.

Example:
    >>> import os
    >>> os.environ.pop(DATA_ENV, None) and None
    >>> default_data_dir()
    'data'
    >>> data_dir_for(None, {"data_dir": "/nonexistent"})
    'data'
"""

from __future__ import annotations

from entrobust.training.runfiles import DATA_ENV, data_dir_for, default_data_dir

__all__ = ["DATA_ENV", "data_dir_for", "default_data_dir"]
