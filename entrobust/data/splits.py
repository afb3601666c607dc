"""Train/test tensors of a dataset, their validation and stratified subsets.

Example:
    >>> import torch
    >>> from entrobust.data.spec import DATASETS
    >>> x = torch.zeros(20, 1, 8, 8, dtype=torch.uint8)
    >>> y = torch.arange(20) % 10
    >>> splits = DatasetSplits(DATASETS["digits"], x, y, x[:10], y[:10])
    >>> splits
    DatasetSplits(name='digits', train=20, test=10, input_shape=(1, 8, 8), num_classes=10)
    >>> subset(splits, train_size=10, test_size=None, seed=0)
    DatasetSplits(name='digits', train=10, test=10, input_shape=(1, 8, 8), num_classes=10)
    >>> splits.x_train.dtype  # convert batches with entrobust.tensors.as_float_images
    torch.uint8
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from entrobust.data.spec import DatasetSpec
from entrobust.errors import InvalidValueError


def check_compatible(spec: DatasetSpec, x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why images ``x`` (uint8 NCHW) and labels ``y`` do not fit ``spec``, or ``None`` if they do.

    Example:
        >>> from entrobust.data.spec import DATASETS
        >>> x = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
        >>> check_compatible(DATASETS["cifar10"], x, torch.tensor([0, 1]))
        "images are 1x28x28 but 'cifar10' expects 3x32x32"
        >>> check_compatible(DATASETS["mnist"], x, torch.tensor([0, 1])) is None
        True
    """
    if x.dim() != 4 or x.dtype != torch.uint8:
        return f"images must be a uint8 NCHW tensor; got {x.dtype} of shape {tuple(x.shape)}"
    if y.dim() != 1 or y.dtype != torch.int64:
        return f"labels must be a 1-D int64 tensor; got {y.dtype} of shape {tuple(y.shape)}"
    if len(x) != len(y):
        return f"{len(x)} images but {len(y)} labels"
    if tuple(x.shape[1:]) != spec.input_shape:
        got = "x".join(map(str, x.shape[1:]))
        want = "x".join(map(str, spec.input_shape))
        return f"images are {got} but '{spec.name}' expects {want}"
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= spec.num_classes):
        return (
            f"labels span {int(y.min())}..{int(y.max())} but '{spec.name}' has "
            f"{spec.num_classes} classes (0..{spec.num_classes - 1})"
        )
    return None


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A dataset's train and test split as uint8 NCHW images and int64 labels.

    Images stay uint8 (4x smaller than float); convert batches with
    :func:`entrobust.tensors.as_float_images`.
    Equality is identity (``eq=False``): comparing tensors element-wise is not a bool.

    Attributes:
        spec: The dataset's :class:`~entrobust.data.spec.DatasetSpec`.
        x_train: Training images, uint8, shape ``(N, C, H, W)``.
        y_train: Training labels, int64, shape ``(N,)``.
        x_test: Test images, uint8, shape ``(M, C, H, W)``.
        y_test: Test labels, int64, shape ``(M,)``.
        source_fingerprint: :func:`fingerprint` of the whole dataset these splits were taken
            from (kept by :func:`subset`); a run stores it and refuses other data.

    Raises:
        InvalidValueError: If dtypes, shapes or label ranges do not fit ``spec``.
    """

    spec: DatasetSpec
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source_fingerprint: str = ""

    def __post_init__(self) -> None:
        for part, x, y in (
            ("train", self.x_train, self.y_train),
            ("test", self.x_test, self.y_test),
        ):
            problem = check_compatible(self.spec, x, y)
            if problem is not None:
                raise InvalidValueError(f"dataset '{self.spec.name}' {part} split: {problem}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The ``(channels, height, width)`` of one image."""
        return self.spec.input_shape

    @property
    def num_classes(self) -> int:
        """The number of classes of the dataset."""
        return self.spec.num_classes

    def __repr__(self) -> str:
        return (
            f"DatasetSplits(name={self.spec.name!r}, train={len(self.y_train)}, "
            f"test={len(self.y_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def _stratified_indices(
    y: torch.Tensor, size: int, seed: int, part: str, name: str
) -> torch.Tensor:
    """Sorted indices of a stratified, seeded sample of ``size`` of the labels ``y``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise InvalidValueError(f"{part}_size must be an integer count or None; got {size!r}")
    n = len(y)
    labels = y.cpu().numpy()
    n_classes = len(np.unique(labels))
    if size > n:
        raise InvalidValueError(
            f"{part}_size={size} is larger than the {n} {part} examples of '{name}'"
        )
    if size < n_classes:
        raise InvalidValueError(
            f"{part}_size={size} is smaller than the {n_classes} classes of '{name}'; "
            f"a stratified subset needs at least one example per class"
        )
    if size == n:
        return torch.arange(n)
    try:
        chosen, _ = train_test_split(
            np.arange(n), train_size=size, stratify=labels, random_state=seed
        )
    except ValueError as exc:  # e.g. a class with one example, or too few left over
        raise InvalidValueError(
            f"cannot draw a stratified {part} subset of {size} of {n} examples of '{name}': {exc}"
        ) from None
    return torch.from_numpy(np.sort(chosen))


def subset(
    splits: DatasetSplits, train_size: int | None, test_size: int | None, seed: int
) -> DatasetSplits:
    """A stratified, seeded subset of each split (``None`` keeps a split whole).

    Each class keeps its share of the split (up to rounding), the same seed picks the same
    examples, and the kept examples stay in their original order.

    Args:
        splits: The full splits.
        train_size: Number of training examples to keep, or ``None`` for all.
        test_size: Number of test examples to keep, or ``None`` for all.
        seed: Random seed of the selection.

    Returns:
        New :class:`DatasetSplits` with the same spec.

    Raises:
        InvalidValueError: If a size is larger than the split, smaller than its number of
            classes, or otherwise impossible to stratify.

    Example:
        >>> from entrobust.data.spec import DATASETS
        >>> x = torch.zeros(20, 1, 8, 8, dtype=torch.uint8)
        >>> y = torch.arange(20) % 10
        >>> s = DatasetSplits(DATASETS["digits"], x, y, x, y)
        >>> subset(s, train_size=30, test_size=None, seed=0)
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: train_size=30 is larger than the 20 train examples \
of 'digits'
    """
    name = splits.spec.name
    x_train, y_train, x_test, y_test = splits.x_train, splits.y_train, splits.x_test, splits.y_test
    if train_size is not None:
        idx = _stratified_indices(y_train, train_size, seed, "train", name).to(y_train.device)
        x_train, y_train = x_train[idx], y_train[idx]
    if test_size is not None:
        idx = _stratified_indices(y_test, test_size, seed, "test", name).to(y_test.device)
        x_test, y_test = x_test[idx], y_test[idx]
    return DatasetSplits(splits.spec, x_train, y_train, x_test, y_test, splits.source_fingerprint)


def fingerprint(*tensors: torch.Tensor) -> str:
    """16 hex digits of the SHA-256 of the tensors' dtypes, shapes and bytes.

    Example:
        >>> a = torch.zeros(2, 3, dtype=torch.uint8)
        >>> fingerprint(a) == fingerprint(a.clone()), fingerprint(a) == fingerprint(a + 1)
        (True, False)
    """
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]
