"""Tests of entrobust.data: specs, npz/digits/torchvision loading, subsets and augmentation.

Everything runs offline. torchvision's loaders are exercised on tiny files written here in
torchvision's own on-disk formats (CIFAR pickles, SVHN .mat, MNIST idx).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.datasets.cifar
import torchvision.datasets.svhn

from entrobust.data import (
    DATASETS,
    DatasetSpec,
    DatasetSplits,
    augment_batch,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    subset,
)
from entrobust.data.augment import crop_flip, sample_augment_params
from entrobust.data.spec import ls_gamma_matching_entm
from entrobust.errors import DatasetNotFoundError, InvalidValueError, UnknownNameError
from entrobust.tensors import as_float_images

SHARED = Path("/work/shared/datasets")


def _images(n: int, c: int, size: int, seed: int) -> np.ndarray:
    """Random uint8 NCHW images."""
    return np.random.default_rng(seed).integers(0, 256, (n, c, size, size), dtype=np.uint8)


def _labels(n: int, num_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, num_classes, n).astype(np.int64)


def _assert_round_trip(splits: DatasetSplits, x_tr, y_tr, x_te, y_te) -> None:
    assert splits.x_train.dtype == torch.uint8 and splits.y_train.dtype == torch.int64
    assert torch.equal(splits.x_train, torch.from_numpy(x_tr))
    assert torch.equal(splits.y_train, torch.from_numpy(y_tr))
    assert torch.equal(splits.x_test, torch.from_numpy(x_te))
    assert torch.equal(splits.y_test, torch.from_numpy(y_te))


@pytest.fixture
def skip_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our tiny files cannot match torchvision's MD5s of the real archives.

    CIFAR10._check_integrity, CIFAR10._load_meta and SVHN._check_integrity all call the
    module-level ``check_integrity(path, md5)`` of cifar.py / svhn.py (``_load_meta`` checks
    batches.meta / meta too, so patching only ``_check_integrity`` is not enough). We replace
    it with a plain existence check, so a missing file is still detected.
    """

    def exists(fpath: str | os.PathLike[str], md5: str | None = None) -> bool:
        return os.path.isfile(fpath)

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", exists)
    monkeypatch.setattr(torchvision.datasets.svhn, "check_integrity", exists)


# --------------------------------------------------------------------------- torchvision


def _dump(path: Path, obj: dict) -> None:
    # The real files are Python-2 pickles whose str keys torchvision reads (encoding="latin1")
    # as str ("data", "labels"); Python-3 str keys load the same way (b"data" would not).
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def test_cifar10_torchvision_format_round_trips(tmp_path: Path, skip_md5: None) -> None:
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    x_tr, y_tr = _images(10, 3, 32, 0), _labels(10, 10, 0)
    x_te, y_te = _images(4, 3, 32, 1), _labels(4, 10, 1)
    for i in range(5):  # two images per data_batch_i, rows are (3072,) = R, G, B planes
        sl = slice(2 * i, 2 * i + 2)
        _dump(
            base / f"data_batch_{i + 1}",
            {"data": x_tr[sl].reshape(2, -1), "labels": y_tr[sl].tolist()},
        )
    _dump(base / "test_batch", {"data": x_te.reshape(4, -1), "labels": y_te.tolist()})
    _dump(base / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})

    splits = load_dataset("cifar10", data_dir=tmp_path)
    assert splits.spec is DATASETS["cifar10"]
    _assert_round_trip(splits, x_tr, y_tr, x_te, y_te)


def test_cifar100_torchvision_format_round_trips(tmp_path: Path, skip_md5: None) -> None:
    base = tmp_path / "cifar-100-python"
    base.mkdir()
    x_tr, y_tr = _images(6, 3, 32, 2), np.array([0, 99, 42, 7, 63, 99], dtype=np.int64)
    x_te, y_te = _images(3, 3, 32, 3), np.array([5, 0, 98], dtype=np.int64)
    for name, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        _dump(
            base / name,
            {
                "data": x.reshape(len(x), -1),
                "fine_labels": y.tolist(),
                "coarse_labels": [0] * len(y),
            },
        )
    _dump(base / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})

    splits = load_dataset("cifar100", data_dir=tmp_path)
    assert splits.num_classes == 100
    _assert_round_trip(splits, x_tr, y_tr, x_te, y_te)


def test_svhn_torchvision_format_round_trips(tmp_path: Path, skip_md5: None) -> None:
    import scipy.io

    x_tr, y_tr = _images(7, 3, 32, 4), np.array([0, 1, 2, 9, 0, 5, 0], dtype=np.int64)
    x_te, y_te = _images(3, 3, 32, 5), np.array([0, 3, 9], dtype=np.int64)
    for split, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        mat_y = np.where(y == 0, 10, y).astype(np.uint8)[:, None]  # SVHN stores digit 0 as 10
        # X is (H, W, C, N): X[h, w, c, n] = x[n, c, h, w]
        scipy.io.savemat(
            tmp_path / f"{split}_32x32.mat", {"X": x.transpose(2, 3, 1, 0), "y": mat_y}
        )

    splits = load_dataset("svhn", data_dir=tmp_path)
    assert splits.spec.augment == "crop"
    _assert_round_trip(splits, x_tr, y_tr, x_te, y_te)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's idx format: 0x0000 0x08 (uint8) ndim, big-endian int32 dims, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_torchvision_format_round_trips(tmp_path: Path) -> None:
    # torchvision 0.29's MNIST reads <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    # and only checks that those files exist (check_integrity without an md5), so no patch.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    x_tr, y_tr = _images(5, 1, 28, 6), _labels(5, 10, 6)
    x_te, y_te = _images(3, 1, 28, 7), _labels(3, 10, 7)
    _write_idx(raw / "train-images-idx3-ubyte", x_tr[:, 0])
    _write_idx(raw / "train-labels-idx1-ubyte", y_tr)
    _write_idx(raw / "t10k-images-idx3-ubyte", x_te[:, 0])
    _write_idx(raw / "t10k-labels-idx1-ubyte", y_te)

    splits = load_dataset("mnist", data_dir=tmp_path)
    assert splits.input_shape == (1, 28, 28)
    _assert_round_trip(splits, x_tr, y_tr, x_te, y_te)


def test_unreadable_torchvision_files_are_one_clear_line(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"  # MNIST has no MD5 check: garbage reaches the parser
    raw.mkdir(parents=True)
    for stem in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
        (raw / f"{stem}-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(DatasetNotFoundError, match="unreadable") as info:
        load_dataset("mnist", data_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert (raw / "train-images-idx3-ubyte").read_bytes() == b"not an idx file"  # not deleted


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn", "mnist"])
def test_missing_dataset_offline_is_one_clear_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message and f"{name}.npz" in message and "--download" in message
    assert list(tmp_path.iterdir()) == []  # nothing created, nothing deleted


@pytest.mark.parametrize("name", ["cifar10", "svhn", "mnist"])
def test_failed_download_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Simulate "no network" deterministically (and without downloading 170 MB on a machine
    # that has internet): every urlopen fails at once, as a DNS failure does offline.
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, data_dir=tmp_path, download=True)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) in message and "could not be downloaded" in message


# --------------------------------------------------------------------------- npz


@pytest.mark.skipif(not (SHARED / "mnist.npz").is_file(), reason="shared mnist.npz absent")
def test_real_mnist_npz() -> None:
    splits = load_dataset("mnist", data_dir=SHARED)
    assert splits.spec is DATASETS["mnist"]
    assert tuple(splits.x_train.shape) == (60000, 1, 28, 28)
    assert tuple(splits.x_test.shape) == (10000, 1, 28, 28)
    assert tuple(splits.y_train.shape) == (60000,) and splits.y_train.dtype == torch.int64
    mean = splits.x_train.sum(dtype=torch.float64) / splits.x_train.numel() / 255
    assert abs(float(mean) - 0.1307) < 1e-3


@pytest.mark.skipif(
    not (SHARED / "cifar10_subset.npz").is_file(), reason="shared cifar10_subset.npz absent"
)
def test_cifar10_subset_npz_inherits_cifar10_spec() -> None:
    splits = load_dataset("cifar10_subset", data_dir=SHARED)
    assert splits.spec.name == "cifar10_subset"
    assert dataclasses.replace(splits.spec, name="cifar10") == DATASETS["cifar10"]
    assert splits.input_shape == (3, 32, 32) and splits.num_classes == 10
    assert len(splits.y_train) == 2000 and len(splits.y_test) == 1000
    assert get_dataset_spec("cifar10_subset", SHARED) == splits.spec
    assert "cifar10_subset" in list_datasets(SHARED)


def test_npz_with_bad_key_is_clear_error(tmp_path: Path) -> None:
    x = np.zeros((4, 8, 8), np.uint8)
    y = np.arange(4, dtype=np.uint8)
    np.savez(tmp_path / "broken.npz", x_train=x, y_train=y, x_tst=x, y_test=y)
    with pytest.raises(InvalidValueError) as info:
        load_dataset("broken", data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and "broken.npz" in message and "x_test" in message


def test_npz_with_bad_dtype_or_shape_for_registered_name(tmp_path: Path) -> None:
    y = np.arange(4, dtype=np.uint8)
    np.savez(tmp_path / "digits.npz", x_train=np.zeros((4, 8, 8), np.float32), y_train=y,
             x_test=np.zeros((4, 8, 8), np.uint8), y_test=y)  # fmt: skip
    with pytest.raises(InvalidValueError, match=r"digits\.npz: x_train must be uint8"):
        load_dataset("digits", data_dir=tmp_path)
    x = np.zeros((4, 28, 28), np.uint8)
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(InvalidValueError, match=r"cifar10\.npz: images are 1x28x28 .* 3x32x32"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_npz_layouts_and_registered_name_npz_first(tmp_path: Path) -> None:
    # a registered name with an npz file uses the file (not sklearn), with the registered spec
    x_tr, y_tr = _images(10, 1, 8, 8), np.arange(10, dtype=np.int64)
    np.savez(tmp_path / "digits.npz", x_train=x_tr[:, 0], y_train=y_tr.astype(np.uint8),
             x_test=x_tr[:, 0], y_test=y_tr.astype(np.uint8))  # fmt: skip
    splits = load_dataset("digits", data_dir=tmp_path)
    assert splits.spec is DATASETS["digits"]
    _assert_round_trip(splits, x_tr, y_tr, x_tr, y_tr)
    # colour NHWC -> NCHW; longest registered prefix wins (cifar100 over cifar10)
    x_c, y_c = _images(4, 3, 32, 9), np.array([0, 50, 99, 12], dtype=np.int64)
    nhwc = x_c.transpose(0, 2, 3, 1)
    np.savez(tmp_path / "cifar100_mini.npz", x_train=nhwc, y_train=y_c, x_test=nhwc, y_test=y_c)
    splits = load_dataset("cifar100_mini", data_dir=tmp_path)
    assert dataclasses.replace(splits.spec, name="cifar100") == DATASETS["cifar100"]
    _assert_round_trip(splits, x_c, y_c, x_c, y_c)


def test_unregistered_npz_gets_generic_spec(tmp_path: Path) -> None:
    x = np.array([0, 255, 0, 255], np.uint8).reshape(4, 1, 1).repeat(3, 1).repeat(3, 2)
    y = np.array([0, 1, 2, 1], np.uint8)
    np.savez(tmp_path / "toyset.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    # the prefix "mnist" fits no mnist data (3x3 images), so it is generic too
    np.savez(tmp_path / "mnist_tiny.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    for name in ("toyset", "mnist_tiny"):
        spec = load_dataset(name, data_dir=tmp_path).spec
        assert (spec.name, spec.num_classes, spec.input_shape) == (name, 3, (1, 3, 3))
        assert spec.mean == pytest.approx((0.5,)) and spec.std == pytest.approx((0.5,))
        assert (spec.augment, spec.default_arch, spec.at_steps) == ("none", "tiny", 7)
        assert spec.at_eps == pytest.approx(8 / 255) and spec.at_step == pytest.approx(2 / 255)


def test_unknown_name_lists_registered_and_npz_names(tmp_path: Path) -> None:
    x = np.zeros((2, 4, 4), np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[0, 1])
    with pytest.raises(UnknownNameError) as info:
        load_dataset("imagenet", data_dir=tmp_path)
    message = str(info.value)
    assert "imagenet" in message and "mine" in message and str(tmp_path) in message
    assert all(name in message for name in DATASETS.names())
    with pytest.raises(UnknownNameError):
        get_dataset_spec("imagenet")
    with pytest.raises(InvalidValueError):
        load_dataset("../etc/passwd", data_dir=tmp_path)
    assert list_datasets() == ["cifar10", "cifar100", "digits", "mnist", "svhn"]


# --------------------------------------------------------------------------- digits & specs


def test_digits_split_and_hard_coded_stats() -> None:
    splits = load_dataset("digits", data_dir="/nonexistent")
    assert len(splits.y_train) == 1437 and len(splits.y_test) == 360
    assert splits.x_train.dtype == torch.uint8 and splits.input_shape == (1, 8, 8)
    assert int(splits.x_train.min()) == 0 and int(splits.x_train.max()) == 255
    x = splits.x_train.double() / 255
    assert abs(x.mean().item() - splits.spec.mean[0]) < 1e-4
    assert abs(x.std(unbiased=False).item() - splits.spec.std[0]) < 1e-4
    assert set(splits.y_train.tolist()) == set(range(10))


def test_specs_follow_the_paper() -> None:
    assert DATASETS.names() == ["cifar10", "cifar100", "digits", "mnist", "svhn"]
    c10, c100, svhn, mnist = (DATASETS[n] for n in ("cifar10", "cifar100", "svhn", "mnist"))
    for spec in (c10, c100, svhn):
        assert (spec.input_shape, spec.default_arch) == ((3, 32, 32), "resnet18")
        assert (round(spec.at_eps * 255), round(spec.at_step * 255), spec.at_steps) == (8, 2, 7)
    assert (c10.ls_gamma, c100.ls_gamma, svhn.ls_gamma, mnist.ls_gamma) == (0.74, 0.84, 0.74, None)
    assert (c10.augment, c100.augment, svhn.augment, mnist.augment) == (
        "crop-flip", "crop-flip", "crop", "none",
    )  # fmt: skip
    assert (round(mnist.at_eps * 255), round(mnist.at_step * 255), mnist.at_steps) == (48, 6, 10)
    assert all(spec.entm_lam == 2.0 for spec in DATASETS.values())
    # the paper's γ rule ("same non-maximal predictions as EntM") reproduces its values
    assert round(ls_gamma_matching_entm(10), 2) == 0.74
    assert round(ls_gamma_matching_entm(100), 2) == 0.84
    with pytest.raises(InvalidValueError, match="8/255"):
        dataclasses.replace(c10, at_eps=8.0)
    with pytest.raises(InvalidValueError, match="augment"):
        dataclasses.replace(c10, augment="flip")
    assert isinstance(get_dataset_spec("svhn"), DatasetSpec)


# --------------------------------------------------------------------------- subset


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits")


def test_subset_is_stratified_and_seeded(digits: DatasetSplits) -> None:
    small = subset(digits, train_size=300, test_size=50, seed=0)
    assert len(small.y_train) == 300 and len(small.y_test) == 50
    for full, part in ((digits.y_train, small.y_train), (digits.y_test, small.y_test)):
        want = torch.bincount(full, minlength=10).double() * len(part) / len(full)
        got = torch.bincount(part, minlength=10).double()
        assert (got - want).abs().max() <= 1
    again = subset(digits, train_size=300, test_size=50, seed=0)
    assert torch.equal(again.x_train, small.x_train) and torch.equal(again.y_test, small.y_test)
    other = subset(digits, train_size=300, test_size=50, seed=1)
    assert not torch.equal(other.x_train, small.x_train)
    kept = subset(digits, train_size=None, test_size=None, seed=0)
    assert torch.equal(kept.x_train, digits.x_train)
    via_load = load_dataset("digits", train_size=300, test_size=50, seed=0)
    assert torch.equal(via_load.x_train, small.x_train)


def test_subset_rejects_impossible_sizes(digits: DatasetSplits) -> None:
    with pytest.raises(InvalidValueError, match="larger than the 1437 train"):
        subset(digits, train_size=1438, test_size=None, seed=0)
    with pytest.raises(InvalidValueError, match="larger than the 360 test"):
        subset(digits, train_size=None, test_size=361, seed=0)
    with pytest.raises(InvalidValueError, match="smaller than the 10 classes"):
        subset(digits, train_size=9, test_size=None, seed=0)
    with pytest.raises(InvalidValueError, match="integer"):
        subset(digits, train_size=0.5, test_size=None, seed=0)  # type: ignore[arg-type]


def test_as_float_images() -> None:
    x = torch.tensor([0, 128, 255], dtype=torch.uint8)
    assert torch.allclose(as_float_images(x), torch.tensor([0.0, 128 / 255, 1.0]))
    assert as_float_images(x).dtype == torch.float32
    f = as_float_images(x)
    assert as_float_images(f) is f  # floats are already in [0, 1]: never scaled twice
    with pytest.raises(TypeError, match="uint8"):
        as_float_images(x.long())


# --------------------------------------------------------------------------- augment


def _reference(x: torch.Tensor, oy, ox, flip, padding: int) -> torch.Tensor:
    """Per-example loop: pad, crop, flip (the obvious, slow implementation)."""
    _, _, h, w = x.shape
    out = []
    for n in range(len(x)):
        img = F.pad(x[n], (padding,) * 4)[
            :, int(oy[n]) : int(oy[n]) + h, int(ox[n]) : int(ox[n]) + w
        ]
        out.append(img.flip(-1) if flip[n] else img)
    return torch.stack(out)


@pytest.mark.parametrize("kind", ["crop-flip", "crop"])
def test_augment_matches_reference_and_is_deterministic(kind: str) -> None:
    x = torch.rand(32, 3, 10, 10)
    out = augment_batch(x, kind, 3, torch.Generator().manual_seed(5))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert torch.equal(out, augment_batch(x, kind, 3, torch.Generator().manual_seed(5)))
    oy, ox, flip = sample_augment_params(32, kind, 3, torch.Generator().manual_seed(5))
    assert torch.equal(out, _reference(x, oy, ox, flip, 3))
    assert bool(flip.any()) == (kind == "crop-flip")
    changed = [not torch.equal(out[n], x[n]) for n in range(32)]
    assert any(changed)


def test_augment_identities() -> None:
    x = torch.rand(8, 1, 6, 6)
    g = torch.Generator().manual_seed(0)
    assert augment_batch(x, "none", 4, g) is x
    assert torch.equal(augment_batch(x, "crop", 0, g), x)
    out = augment_batch(x, "crop-flip", 0, g)  # padding 0: each image kept or flipped
    flipped = [torch.equal(out[n], x[n].flip(-1)) for n in range(8)]
    assert all(f or torch.equal(out[n], x[n]) for n, f in enumerate(flipped))
    # flipped and unshifted (offset == padding) is exactly the mirror image
    p = 2
    centre = torch.full((8,), p)
    assert torch.equal(crop_flip(x, centre, centre, torch.ones(8, dtype=torch.bool), p), x.flip(-1))
    assert torch.equal(crop_flip(x, centre, centre, torch.zeros(8, dtype=torch.bool), p), x)
    with pytest.raises(InvalidValueError, match="unknown augmentation"):
        augment_batch(x, "rotate", 4, g)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augment_on_cuda_matches_cpu() -> None:
    x = torch.rand(64, 3, 32, 32)
    cpu = augment_batch(x, "crop-flip", 4, torch.Generator().manual_seed(1))
    gpu = augment_batch(x.cuda(), "crop-flip", 4, torch.Generator().manual_seed(1))
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
