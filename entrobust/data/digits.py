"""scikit-learn's bundled handwritten digits: a real, tiny, always-offline dataset.

1797 grey 8x8 images with 17 grey levels (sklearn's 0..16, scaled to uint8 by
``round(v * 255 / 16)``), split once into a fixed stratified 80/20 train/test split
(``random_state=0``: 1437 / 360 images, each split in sklearn's original order).

Example:
    >>> x_train, y_train, x_test, y_test = read_digits()
    >>> tuple(x_train.shape), tuple(x_test.shape), x_train.dtype
    ((1437, 1, 8, 8), (360, 1, 8, 8), torch.uint8)
"""

from __future__ import annotations

import numpy as np
import torch

from entrobust.data.npz import Arrays

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def read_digits() -> Arrays:
    """Load sklearn's digits as uint8 ``(N, 1, 8, 8)`` images and int64 labels.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` of the fixed 1437 / 360 split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_TEST_FRACTION,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return (
        torch.from_numpy(np.ascontiguousarray(images[train_idx])),
        torch.from_numpy(labels[train_idx]),
        torch.from_numpy(np.ascontiguousarray(images[test_idx])),
        torch.from_numpy(labels[test_idx]),
    )
