"""Atomic CSV and PNG output for the analysis commands.

Example:
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = save_csv(pd.DataFrame({"a": [1]}), path)
    >>> path.read_text()
    'a\\n1\\n'
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from entrobust.atomic import atomic_write

#: Resolution of saved figures (small PNGs; the figures are 6-11 inches wide).
PNG_DPI = 110


def save_csv(frame: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> Path:
    """Atomically write ``frame`` as CSV; returns the path."""
    text = frame.to_csv(index=index)
    atomic_write(path, lambda f: f.write(text.encode()))
    return Path(path)


def save_figure(fig, path: str | os.PathLike, dpi: int = PNG_DPI) -> Path:
    """Atomically write a matplotlib figure as PNG and close it; returns the path."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return Path(path)


__all__ = ["PNG_DPI", "save_csv", "save_figure"]
