"""Read a dataset from a plain ``.npz`` file: uint8 ``x_train, y_train, x_test, y_test``.

Images are NHW (grey) or NHWC (grey or colour, C in {1, 3}); they come back as uint8 NCHW
tensors, labels as int64. Every problem is reported as one line naming the file.

Resource bombs are refused before allocation: the ``.npy`` headers inside the zip are read
first (no data), and an array larger than :func:`max_array_bytes` (2 GiB, or
``$ENTROBUST_MAX_ARRAY_BYTES``) is refused with its shape and size; labels implying more than
:data:`MAX_CLASSES` classes are refused once the (small) label arrays are read.

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

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from entrobust.errors import DatasetNotFoundError, InvalidValueError

NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
"""The arrays a dataset ``.npz`` file must hold."""

Arrays = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

#: Environment variable that raises (or lowers) the per-array size limit, in bytes.
MAX_BYTES_ENV = "ENTROBUST_MAX_ARRAY_BYTES"
#: Default per-array size limit: 2 GiB (CIFAR-10's training images are 150 MB).
DEFAULT_MAX_ARRAY_BYTES = 2**31
#: The most classes a dataset may have (labels are ``0 .. MAX_CLASSES - 1``).
MAX_CLASSES = 100_000


def max_array_bytes() -> int:
    """The per-array size limit: ``$ENTROBUST_MAX_ARRAY_BYTES`` if set, else 2 GiB.

    Example:
        >>> max_array_bytes() == int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_ARRAY_BYTES))
        True
    """
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_ARRAY_BYTES
    try:
        value = int(text)
    except ValueError:
        raise InvalidValueError(
            f"${MAX_BYTES_ENV} must be a number of bytes, got {text!r}"
        ) from None
    if value < 1:
        raise InvalidValueError(f"${MAX_BYTES_ENV} must be ≥ 1, got {value}")
    return value


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_npz_headers(path: str | os.PathLike[str]) -> dict[str, tuple[tuple[int, ...], str]]:
    """Read the shape and dtype of every array in an ``.npz`` from its headers (no data read).

    Raises:
        InvalidValueError: an array over :func:`max_array_bytes`, an object array, or an
            unreadable header (one line with the numbers).

    Example:
        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> path = Path(tempfile.mkdtemp()) / "toy.npz"
        >>> np.savez(path, x=np.zeros((2, 3), np.uint8))
        >>> check_npz_headers(path)
        {'x': ((2, 3), 'uint8')}
    """
    path = Path(path)
    limit = max_array_bytes()
    found: dict[str, tuple[tuple[int, ...], str]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[: -len(".npy")]
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version in ((2, 0), (3, 0)):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
                if dtype.hasobject:
                    raise InvalidValueError(
                        f"{path}: {key} is an object array (pickled Python objects); a dataset "
                        ".npz holds uint8 images and integer labels"
                    )
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > limit:
                    raise InvalidValueError(
                        f"{path}: {key} declares shape {tuple(shape)} of {dtype} = {nbytes} bytes "
                        f"({_gib(nbytes)}), over the {limit}-byte ({_gib(limit)}) limit per array; "
                        f"set {MAX_BYTES_ENV} to allow it"
                    )
                found[key] = (tuple(shape), str(dtype))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, InvalidValueError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidValueError(f"{path}: not a readable .npz file ({first})") from None
    return found


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
    if len(y) and int(y.max()) >= MAX_CLASSES:
        raise InvalidValueError(
            f"{path}: {key} has label {int(y.max())}, which would mean {int(y.max()) + 1} "
            f"classes (at most {MAX_CLASSES}); labels must be 0 .. C-1"
        )
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
    check_npz_headers(path)  # sizes from the headers, before anything is allocated
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
