"""Read CIFAR-10, CIFAR-100, SVHN and MNIST through torchvision's own dataset classes.

Files are looked up (and, with ``download=True``, downloaded) in torchvision's usual layout
under ``data_dir``: ``cifar-10-batches-py/``, ``cifar-100-python/``, ``train_32x32.mat`` /
``test_32x32.mat`` and ``MNIST/raw/``. Anything that prevents loading (files absent or
corrupted, no network) becomes one :class:`~entrobust.errors.DatasetNotFoundError` line that
says how to get the data. Nothing is ever deleted.

Example:
    >>> sorted(TORCHVISION_LOADERS)
    ['cifar10', 'cifar100', 'mnist', 'svhn']
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from entrobust.data.npz import NPZ_KEYS, Arrays
from entrobust.errors import DatasetNotFoundError

# Errors torchvision raises for missing files or a failed MD5 check (RuntimeError) or a failed
# download (urllib's URLError is an OSError; so are socket timeouts and full disks).
_MISSING_ERRORS = (RuntimeError, OSError)


def _cifar(cls_name: str) -> Callable[[str, bool], Arrays]:
    def load(root: str, download: bool) -> Arrays:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        out: list[torch.Tensor] = []
        for train in (True, False):
            ds = cls(root=root, train=train, download=download)
            out.append(torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2))))
            out.append(torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64))
        return out[0], out[1], out[2], out[3]

    return load


def _svhn(root: str, download: bool) -> Arrays:
    import torchvision.datasets as tvd

    out: list[torch.Tensor] = []
    for split in ("train", "test"):
        ds = tvd.SVHN(root=root, split=split, download=download)  # .data is NCHW, 10 -> 0
        out.append(torch.from_numpy(np.ascontiguousarray(ds.data)))
        out.append(torch.as_tensor(np.asarray(ds.labels), dtype=torch.int64))
    return out[0], out[1], out[2], out[3]


def _mnist(root: str, download: bool) -> Arrays:
    import torchvision.datasets as tvd

    out: list[torch.Tensor] = []
    for train in (True, False):
        ds = tvd.MNIST(root=root, train=train, download=download)  # .data is (N, 28, 28)
        out.append(ds.data.to(torch.uint8).unsqueeze(1).contiguous())
        out.append(ds.targets.to(torch.int64))
    return out[0], out[1], out[2], out[3]


TORCHVISION_LOADERS: dict[str, Callable[[str, bool], Arrays]] = {
    "cifar10": _cifar("CIFAR10"),
    "cifar100": _cifar("CIFAR100"),
    "svhn": _svhn,
    "mnist": _mnist,
}
"""Dataset name → ``load(root, download) -> (x_train, y_train, x_test, y_test)``."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line, whatever torchvision/urllib wrote
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_torchvision(name: str, data_dir: str | os.PathLike[str], download: bool) -> Arrays:
    """Load one of torchvision's datasets as uint8 NCHW images and int64 labels.

    Args:
        name: ``"cifar10"``, ``"cifar100"``, ``"svhn"`` or ``"mnist"``.
        data_dir: torchvision's ``root``.
        download: Whether torchvision may download missing files.

    Returns:
        ``(x_train, y_train, x_test, y_test)``.

    Raises:
        DatasetNotFoundError: One line saying how to get the data, if the files are absent,
            corrupted or unreadable and could not be downloaded.
        KeyError: If ``name`` is not one of :data:`TORCHVISION_LOADERS` (a programming error).
    """
    loader = TORCHVISION_LOADERS[name]
    root = str(Path(data_dir))
    npz_hint = f"put {name}.npz (uint8 {', '.join(NPZ_KEYS)}) there"
    try:
        return loader(root, download)
    except _MISSING_ERRORS as exc:
        if download:
            raise DatasetNotFoundError(
                f"dataset '{name}' could not be downloaded to {root} ({_reason(exc)}); "
                f"rerun on a machine with internet, or {npz_hint}"
            ) from None
        raise DatasetNotFoundError(
            f"dataset '{name}' not found (or corrupted) in {root}; rerun with --download "
            f"(download=True) on a machine with internet, or {npz_hint}"
        ) from None
    except Exception as exc:  # files that pass torchvision's checks but do not parse
        raise DatasetNotFoundError(
            f"dataset '{name}' files in {root} are unreadable ({_reason(exc)}); replace them "
            f"(rerun with --download on a machine with internet), or {npz_hint}"
        ) from None
