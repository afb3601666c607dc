"""Datasets: specs, loading (npz, sklearn digits, torchvision), subsets and augmentation.

Images are kept as uint8 NCHW tensors and converted per batch with
:func:`entrobust.tensors.as_float_images` to the [0, 1] scale that every attack and ε in this
library uses.

Example:
    >>> import torch
    >>> from entrobust.data import augment_batch, load_dataset
    >>> from entrobust.tensors import as_float_images
    >>> splits = load_dataset("digits", train_size=200, test_size=100)
    >>> x = as_float_images(splits.x_train[:16])
    >>> spec = splits.spec
    >>> batch = augment_batch(x, spec.augment, spec.crop_padding, torch.Generator().manual_seed(0))
    >>> tuple(batch.shape), spec.num_classes
    ((16, 1, 8, 8), 10)
"""

from __future__ import annotations

from entrobust.data.augment import augment_batch
from entrobust.data.loader import get_dataset_spec, list_datasets, load_dataset
from entrobust.data.spec import AUGMENT_KINDS, DATASETS, DatasetSpec
from entrobust.data.splits import DatasetSplits, subset

__all__ = [
    "AUGMENT_KINDS",
    "DATASETS",
    "DatasetSpec",
    "DatasetSplits",
    "augment_batch",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "subset",
]
