"""Read a dataset from a plain ``.npz`` file: uint8 ``x_train, y_train, x_test, y_test``.

Images are NHW (grey) or NHWC (grey or colour, C in {1, 3}); they come back as uint8 NCHW
tensors, labels as int64. Every problem is reported as one line naming the file.

Example:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "toy.npz"
    >>> x = np.zeros((4, 5, 5, 3), np.uint8); y = np.array([0, 1, 2, 1], np.uint8)
    >>> np.savez(path, x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    >>> x_train, y_train, x_test, y_test = read_npz(path)
    >>> tuple(x_train.shape), y_train.dtype
    ((4, 3, 5, 5), torch.int64)
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from entrobust.errors import DatasetNotFoundError, InvalidValueError

NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
"""The arrays a dataset ``.npz`` file must hold."""

Arrays = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def npz_path(data_dir: str | os.PathLike[str], name: str) -> Path:
    """The path ``<data_dir>/<name>.npz``.

    Example:
        >>> npz_path("data", "mnist").as_posix()
        'data/mnist.npz'
    """
    return Path(data_dir) / f"{name}.npz"


def list_npz(data_dir: str | os.PathLike[str] | None) -> list[str]:
    """Sorted stems of the ``.npz`` files directly in ``data_dir`` (empty if it is missing).

    Example:
        >>> list_npz("/nonexistent/dir")
        []
    """
    if data_dir is None or not Path(data_dir).is_dir():
        return []
    return sorted(p.stem for p in Path(data_dir).glob("*.npz") if p.is_file())


def _images(path: Path, key: str, x: np.ndarray) -> torch.Tensor:
    if x.dtype != np.uint8:
        raise InvalidValueError(f"{path}: {key} must be uint8 (0..255); got {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    else:
        raise InvalidValueError(
            f"{path}: {key} must have shape (N, H, W) or (N, H, W, C) with C in {{1, 3}}; "
            f"got {x.shape}"
        )
    if x.shape[0] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        raise InvalidValueError(f"{path}: {key} is empty (shape {x.shape})")
    return torch.from_numpy(np.ascontiguousarray(x))


def _labels(path: Path, key: str, y: np.ndarray, n: int) -> torch.Tensor:
    if y.dtype.kind not in "iu" or y.ndim != 1:
        raise InvalidValueError(
            f"{path}: {key} must be a 1-D integer array; got {y.dtype} of shape {y.shape}"
        )
    if len(y) != n:
        raise InvalidValueError(f"{path}: {key} has {len(y)} labels for {n} images")
    if len(y) and int(y.min()) < 0:
        raise InvalidValueError(f"{path}: {key} has negative labels (min {int(y.min())})")
    return torch.from_numpy(y.astype(np.int64))


def read_npz(path: str | os.PathLike[str]) -> Arrays:
    """Load and validate a dataset ``.npz`` file.

    Args:
        path: The ``.npz`` file.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: uint8 NCHW images and int64 labels.

    Raises:
        DatasetNotFoundError: If the file does not exist.
        InvalidValueError: If it is not a valid ``.npz``, lacks a key, or has a wrong dtype or
            shape (the one-line message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"dataset file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = list(npz.files)
            arrays = {k: npz[k] for k in NPZ_KEYS if k in found}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidValueError(f"{path}: not a readable .npz file ({first})") from None
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise InvalidValueError(
            f"{path}: missing array(s) {', '.join(missing)}; a dataset .npz needs "
            f"uint8 {', '.join(NPZ_KEYS)} (found: {', '.join(found) or 'none'})"
        )
    x_train = _images(path, "x_train", arrays["x_train"])
    x_test = _images(path, "x_test", arrays["x_test"])
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InvalidValueError(
            f"{path}: x_train images are {tuple(x_train.shape[1:])} (CHW) but x_test images "
            f"are {tuple(x_test.shape[1:])}"
        )
    y_train = _labels(path, "y_train", arrays["y_train"], len(x_train))
    y_test = _labels(path, "y_test", arrays["y_test"], len(x_test))
    return x_train, y_train, x_test, y_test
