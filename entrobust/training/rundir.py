"""A run directory: where a config's run lives, whether it is finished, loading it, its data
split, and the mid-training checkpoint it resumes from.

Layout of ``<runs_dir>/<run_name>/`` (written by :func:`entrobust.training.train`):

* ``config.json`` — the resolved :class:`TrainConfig` (written first);
* ``checkpoint.pt`` — after every epoch: model, optimizer, scheduler, RNG states, history
  (:func:`make_checkpoint`, :func:`resume_checkpoint`);
* ``final.pt`` — the trained weights (``{"model": state_dict, "config": dict, "spec": dict}``;
  the dataset spec makes the run loadable without the dataset on disk);
* ``metrics.json`` — written last; its presence marks a finished run that is never retrained.

The files themselves are read without trusting them by :mod:`entrobust.training.runfiles`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from entrobust.checkpoint import first_line, load_checkpoint
from entrobust.data import DatasetSpec, DatasetSplits, load_dataset
from entrobust.device import resolve_device
from entrobust.errors import CheckpointError, DataMismatchError, EntrobustError
from entrobust.training.build import build_model
from entrobust.training.config import TrainConfig
from entrobust.training.runfiles import check_final_payload, check_run_dir, read_metrics


@dataclass
class TrainedRun:
    """A finished run: its directory, config, model (eval mode), metrics, and whether it was
    loaded from the cache rather than trained (or resumed) by this call."""

    run_dir: Path
    config: TrainConfig
    model: nn.Module
    metrics: dict[str, Any]
    cached: bool = False
    spec: DatasetSpec | None = None


def run_dir_for(config: TrainConfig, runs_dir: str | Path) -> Path:
    """Where ``config``'s run lives."""
    return Path(runs_dir) / config.run_name


def is_complete(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a finished run."""
    check_run_dir(run_dir)
    if not (run_dir / "final.pt").is_file():
        return False
    return read_metrics(run_dir) is not None  # a bad metrics.json: StateFileError


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """A checkpoint-safe (plain types) form of a dataset spec."""
    d = asdict(spec)
    d["mean"], d["std"] = list(spec.mean), list(spec.std)
    return d


def spec_from_dict(d: dict[str, Any]) -> DatasetSpec:
    """Inverse of :func:`spec_to_dict`."""
    return DatasetSpec(**{**d, "mean": tuple(d["mean"]), "std": tuple(d["std"])})


def final_parts(
    payload: dict[str, Any], path: Path, remedy: str
) -> tuple[TrainConfig, DatasetSpec]:
    """``(TrainConfig, DatasetSpec)`` of a checked ``final.pt`` payload."""
    try:
        return TrainConfig.from_dict(payload["config"]), spec_from_dict(payload["spec"])
    except (KeyError, TypeError, ValueError, AttributeError, EntrobustError) as err:
        raise CheckpointError(f"{path} lacks a valid config or spec ({err}); {remedy}") from None


def _restore_model(config: TrainConfig, spec: DatasetSpec, state: dict, path: Path) -> nn.Module:
    model = build_model(config, spec)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"{path} does not fit {config.arch} ({first_line(err)})") from None
    return model


def _load_final(path: Path, remedy: str) -> tuple[TrainConfig, DatasetSpec, nn.Module]:
    payload = check_final_payload(load_checkpoint(path, remedy=remedy), path, remedy)
    config, spec = final_parts(payload, path, remedy)
    return config, spec, _restore_model(config, spec, payload["model"], path)


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> TrainedRun:
    """Load a finished run's model (eval mode) from ``final.pt`` with ``weights_only=True``.

    Raises:
        CheckpointError: missing, unfinished or corrupt run.
    """
    run_dir = Path(run_dir)
    if not is_complete(run_dir):
        raise CheckpointError(
            f"{run_dir} is not a finished entrobust run (no final.pt/metrics.json)"
        )
    config, spec, model = _load_final(run_dir / "final.pt", f"delete {run_dir} to retrain")
    metrics = read_metrics(run_dir)
    return TrainedRun(
        run_dir,
        config,
        model.to(resolve_device(str(device))).eval(),
        metrics,
        cached=True,
        spec=spec,
    )


def load_checkpoint_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedRun:
    """Load any entrobust checkpoint given by path: a run's ``final.pt`` or a copy of one.

    A ``final.pt`` inside a finished run directory loads as that run (with its metrics);
    anything else in the documented format (:mod:`entrobust.training.runfiles`) loads on its
    own (``run_dir`` = its folder, empty metrics). Other files are refused with one line
    saying what they are.
    """
    path = Path(path)
    if not path.is_file():
        what = "a directory (pass --run for a run directory)" if path.is_dir() else "missing"
        raise CheckpointError(f"checkpoint {path} is {what}")
    if path.name == "final.pt" and is_complete(path.parent):
        return load_run(path.parent, device)
    config, _, model = _load_final(path, "pass a run's final.pt or a file in that format")
    dev = resolve_device(str(device))
    return TrainedRun(path.parent, config, model.to(dev).eval(), {}, cached=True)


# ---------------------------------------------------------------------------- data split


def load_config_data(
    config: TrainConfig,
    data_dir: str | Path = "data",
    download: bool = False,
    test_size: int | None = None,
) -> DatasetSplits:
    """The data split ``config`` trains and evaluates on (its subset sizes and data seed;
    ``test_size`` overrides its test subset). The one place a run's split is loaded.

    Example:
        >>> from entrobust.training.config import make_config
        >>> load_config_data(make_config("digits", "normal", profile="ci", test_size=50))
        DatasetSplits(name='digits', train=..., test=50, input_shape=(1, 8, 8), num_classes=10)
    """
    return load_dataset(
        config.dataset,
        data_dir=data_dir,
        download=download,
        train_size=config.train_size,
        test_size=config.test_size if test_size is None else test_size,
        seed=config.data_seed,
    )


def load_run_data(
    run: TrainedRun,
    data_dir: str | Path = "data",
    download: bool = False,
    test_size: int | None = None,
) -> DatasetSplits:
    """The data split ``run`` was trained and evaluated on (``test_size`` overrides its test
    subset), checked against the run: other images under the same name, another image shape
    or number of classes is one :class:`~entrobust.errors.DataMismatchError` line.

    Example:
        >>> import tempfile
        >>> from entrobust.training import train
        >>> from entrobust.training.config import make_config
        >>> cfg = make_config("digits", "normal", profile="ci", epochs=1, train_size=100,
        ...                   test_size=50)
        >>> run = train(cfg, runs_dir=tempfile.mkdtemp(), progress=False, device="cpu")
        >>> len(load_run_data(run, test_size=20).y_test)
        20
    """
    data = load_config_data(run.config, data_dir, download, test_size)
    check_run_data(run, data)
    return data


def check_run_data(run: TrainedRun, data: DatasetSplits) -> None:
    """Refuse ``data`` unless it is what ``run`` was trained on.

    The source fingerprint (recorded since runs store one) must match; the image shape and
    the number of classes must always match the run's model.

    Raises:
        DataMismatchError: one line naming the run, the expected and the found data.
    """
    stored = run.metrics.get("data_fingerprint")
    if stored and data.source_fingerprint and stored != data.source_fingerprint:
        raise DataMismatchError(
            f"{run.run_dir} was trained on other '{run.config.dataset}' data (fingerprint "
            f"{stored}, found {data.source_fingerprint}); move that run away or use another "
            "--runs-dir to train on the new data"
        )
    spec = run.spec or data.spec
    if spec.input_shape != data.spec.input_shape or spec.num_classes != data.spec.num_classes:
        raise DataMismatchError(
            f"{run.run_dir} expects {spec.num_classes}-class images of shape "
            f"{spec.input_shape}, but '{data.spec.name}' has {data.spec.num_classes} classes "
            f"of shape {data.spec.input_shape}"
        )


# ---------------------------------------------------------------------------- checkpoint.pt


def checkpoint_path(run_dir: Path) -> Path:
    """The mid-training checkpoint of a run (deleted once ``final.pt`` is written)."""
    return run_dir / "checkpoint.pt"


def make_checkpoint(epoch, state, config, model, optimizer, scheduler, data_rng) -> dict[str, Any]:
    """Everything that resuming after ``epoch`` needs: weights, optimizer, scheduler, every RNG."""
    return {
        "epoch": epoch,
        "config_hash": config.hash,
        "history": state["history"],
        "seconds": state["seconds"],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "data_rng": data_rng.get_state(),
    }


def resume_checkpoint(path, config, model, optimizer, scheduler, data_rng) -> dict[str, Any]:
    """Restore a :func:`make_checkpoint` of ``config`` into the given objects; returns the
    training state (``epoch``, ``history``, ``seconds``).

    Raises:
        CheckpointError: another config's checkpoint, or one that does not fit.
    """
    ckpt = load_checkpoint(path, remedy="if it is this run's own checkpoint, delete it to retrain")
    if not isinstance(ckpt, dict) or ckpt.get("config_hash") != config.hash:
        raise CheckpointError(f"{path} belongs to another config; delete it to retrain")
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng_cpu"])
        if ckpt["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng_cuda"])
        data_rng.set_state(ckpt["data_rng"])
    except (KeyError, RuntimeError, ValueError) as err:
        if isinstance(err, EntrobustError):
            raise
        raise CheckpointError(
            f"{path} cannot be resumed ({first_line(err)}); delete it to retrain"
        ) from None
    return {"epoch": ckpt["epoch"], "history": list(ckpt["history"]), "seconds": ckpt["seconds"]}


__all__ = [
    "TrainedRun",
    "check_run_data",
    "checkpoint_path",
    "final_parts",
    "is_complete",
    "load_checkpoint_file",
    "load_config_data",
    "load_run",
    "load_run_data",
    "make_checkpoint",
    "resume_checkpoint",
    "run_dir_for",
    "spec_from_dict",
    "spec_to_dict",
]
