"""Resolve a dataset name to its spec and data: npz file, sklearn digits or torchvision.

Resolution order for ``name`` (see :func:`load_dataset`):

a. ``<data_dir>/<name>.npz`` exists: load it. A registered name keeps its spec (the data must
   fit it). Any other name inherits the spec of the longest registered name that is a prefix
   of it, renamed (``cifar10_subset`` → cifar10's spec), if the data fits that spec;
   otherwise it gets a generic spec inferred from the data (:func:`infer_spec`).
b. A registered name without an npz file: ``digits`` from scikit-learn, the others through
   torchvision (``download`` lets torchvision fetch them).
c. Anything else: :class:`~entrobust.errors.UnknownNameError` listing the registered names and
   the npz files found in ``data_dir``.

Example:
    >>> splits = load_dataset("digits", train_size=100, test_size=50, seed=1)
    >>> splits
    DatasetSplits(name='digits', train=100, test=50, input_shape=(1, 8, 8), num_classes=10)
    >>> get_dataset_spec("mnist").default_arch
    'cnn4'
    >>> list_datasets()
    ['cifar10', 'cifar100', 'digits', 'mnist', 'svhn']
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from entrobust.data.digits import read_digits
from entrobust.data.npz import Arrays, list_npz, npz_path, read_npz
from entrobust.data.spec import DATASETS, DatasetSpec, ls_gamma_matching_entm
from entrobust.data.splits import DatasetSplits, check_compatible, fingerprint, subset
from entrobust.data.torchvision_sets import TORCHVISION_LOADERS, read_torchvision
from entrobust.errors import InvalidValueError, UnknownNameError

# Defaults of a spec inferred from an unregistered npz file (the paper's CIFAR adversary).
GENERIC_ARCH = "tiny"
GENERIC_AT = {"at_eps": 8 / 255, "at_step": 2 / 255, "at_steps": 7}
GENERIC_ENTM_LAM = 2.0
#: The longest dataset name (run directory names embed it; path components hold 255 bytes).
MAX_NAME_LENGTH = 100


def channel_mean_std(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and (population) std of uint8 NCHW images on the [0, 1] scale.

    Uses a 256-bin histogram per channel, so it needs no float copy of the images.

    Example:
        >>> x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)
        >>> channel_mean_std(x)
        ((0.5,), (0.5,))
    """
    if x.dtype != torch.uint8 or x.dim() != 4 or x.numel() == 0:
        raise InvalidValueError(
            f"channel_mean_std needs non-empty uint8 NCHW images; got {x.dtype} {tuple(x.shape)}"
        )
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for c in range(x.shape[1]):
        counts = torch.bincount(x[:, c].reshape(-1).cpu(), minlength=256).to(torch.float64)
        total = counts.sum()
        mean = (counts * levels).sum() / total
        var = (counts * (levels - mean) ** 2).sum() / total
        means.append(float(mean))
        stds.append(float(var.sqrt()))
    return tuple(means), tuple(stds)


def infer_spec(name: str, arrays: Arrays, source: str = "") -> DatasetSpec:
    """A generic spec for data the library does not know, inferred from the data itself.

    Classes are ``max label + 1``, mean/std those of the training images, no augmentation,
    the ``"tiny"`` architecture, the paper's CIFAR adversary (8/255, 2/255, 7 steps), EntM
    λ = 2 and the label-smoothing γ matching it (:func:`ls_gamma_matching_entm`).

    Args:
        name: The dataset's name.
        arrays: ``(x_train, y_train, x_test, y_test)`` as uint8 NCHW images and int64 labels.
        source: Where the data came from, for error messages (e.g. the file).

    Example:
        >>> x = torch.tensor([0, 255, 0], dtype=torch.uint8).view(3, 1, 1, 1)
        >>> y = torch.tensor([0, 1, 2])
        >>> spec = infer_spec("toy", (x, y, x, y))
        >>> spec.num_classes, spec.input_shape, spec.augment, spec.default_arch
        (3, (1, 1, 1), 'none', 'tiny')
    """
    x_train, y_train, _, y_test = arrays
    where = f"{source}: " if source else f"dataset '{name}': "
    _, _, h, w = x_train.shape
    if h != w:
        raise InvalidValueError(f"{where}images are {h}x{w}; only square images are supported")
    num_classes = int(torch.cat([y_train, y_test]).max()) + 1
    if num_classes < 2:
        raise InvalidValueError(f"{where}labels must cover at least 2 classes; max label is 0")
    mean, std = channel_mean_std(x_train)
    std = tuple(s if s > 0 else 1.0 for s in std)  # constant images: do not divide by zero
    return DatasetSpec(
        name=name,
        num_classes=num_classes,
        in_channels=x_train.shape[1],
        image_size=h,
        mean=mean,
        std=std,
        augment="none",
        crop_padding=4,
        default_arch=GENERIC_ARCH,
        **GENERIC_AT,
        entm_lam=GENERIC_ENTM_LAM,
        ls_gamma=round(ls_gamma_matching_entm(num_classes, GENERIC_ENTM_LAM), 4),
    )


def _problem(spec: DatasetSpec, arrays: Arrays) -> str | None:
    x_train, y_train, x_test, y_test = arrays
    return check_compatible(spec, x_train, y_train) or check_compatible(spec, x_test, y_test)


def _npz_spec(name: str, arrays: Arrays, path: Path) -> DatasetSpec:
    """The spec of data read from ``path``, by the rules of step (a) of the module docstring."""
    if name in DATASETS:
        spec = DATASETS[name]
        problem = _problem(spec, arrays)
        if problem is not None:
            raise InvalidValueError(f"{path}: {problem}")
        return spec
    prefixes = [known for known in DATASETS.names() if name.startswith(known)]
    if prefixes:
        parent = DATASETS[max(prefixes, key=len)]
        if _problem(parent, arrays) is None:
            return dataclasses.replace(parent, name=name)
    return infer_spec(name, arrays, source=str(path))


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or any(sep in name for sep in ("/", "\\", os.sep))
    ):
        raise InvalidValueError(
            f"dataset name must be a plain name like 'cifar10' (no path); got {name!r}"
        )
    if len(name) > MAX_NAME_LENGTH:  # run directory names embed it
        raise InvalidValueError(
            f"dataset name has {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed"
        )


def _unknown(name: str, data_dir: str | os.PathLike[str] | None) -> UnknownNameError:
    message = f"unknown dataset '{name}'; valid: {', '.join(DATASETS.names())}"
    if data_dir is not None:
        found = list_npz(data_dir)
        message += (
            f"; .npz files in {data_dir}: {', '.join(found)}"
            if found
            else f"; no .npz files in {data_dir}"
        )
    return UnknownNameError(message)


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The registered dataset names, plus the ``.npz`` datasets in ``data_dir`` if given.

    Example:
        >>> list_datasets()
        ['cifar10', 'cifar100', 'digits', 'mnist', 'svhn']
    """
    return sorted(set(DATASETS.names()) | set(list_npz(data_dir)))


def get_dataset_spec(name: str, data_dir: str | os.PathLike[str] | None = None) -> DatasetSpec:
    """The :class:`DatasetSpec` that :func:`load_dataset` would use for ``name``.

    A registered name returns its registered spec without touching the disk. An unregistered
    name needs ``data_dir`` holding ``<name>.npz``, which is read to resolve its spec.

    Args:
        name: Dataset name.
        data_dir: Directory to look for ``<name>.npz`` in; ``None`` for registered names only.

    Raises:
        UnknownNameError: If ``name`` is neither registered nor an npz file in ``data_dir``.
        InvalidValueError: If that npz file is malformed.

    Example:
        >>> get_dataset_spec("cifar10").input_shape
        (3, 32, 32)
        >>> get_dataset_spec("imagenet")
        Traceback (most recent call last):
        ...
        entrobust.errors.UnknownNameError: unknown dataset 'imagenet'; valid: cifar10, cifar100, \
digits, mnist, svhn
    """
    _check_name(name)
    if name in DATASETS:
        return DATASETS[name]
    if data_dir is not None:
        path = npz_path(data_dir, name)
        if path.is_file():
            return _npz_spec(name, read_npz(path), path)
    raise _unknown(name, data_dir)


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] = "data",
    download: bool = False,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> DatasetSplits:
    """Load a dataset's train and test splits as uint8 NCHW images and int64 labels.

    Args:
        name: A registered name (``list_datasets()``) or the stem of an npz file in
            ``data_dir``.
        data_dir: Where npz files and torchvision's files live.
        download: Let torchvision download a missing registered dataset (needs internet).
        train_size: Keep a stratified, seeded subset of this many training examples.
        test_size: Keep a stratified, seeded subset of this many test examples.
        seed: Seed of those subsets.

    Returns:
        The :class:`DatasetSplits`.

    Raises:
        DatasetNotFoundError: A registered dataset that is neither on disk nor downloadable
            (one line saying how to get it).
        UnknownNameError: A name that is neither registered nor an npz file in ``data_dir``.
        InvalidValueError: A malformed npz file, or impossible subset sizes.
    """
    _check_name(name)
    path = npz_path(data_dir, name)
    if path.is_file():
        arrays = read_npz(path)
        spec = _npz_spec(name, arrays, path)
    elif name == "digits":
        spec, arrays = DATASETS[name], read_digits()
    elif name in TORCHVISION_LOADERS:
        spec, arrays = DATASETS[name], read_torchvision(name, data_dir, download)
    else:
        raise _unknown(name, data_dir)
    splits = DatasetSplits(spec, *arrays, source_fingerprint=fingerprint(*arrays))
    if train_size is None and test_size is None:
        return splits
    return subset(splits, train_size, test_size, seed)
