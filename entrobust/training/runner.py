"""Train a config to completion: resumable, cached by config hash, atomic, with progress.

Layout of ``<runs_dir>/<run_name>/``:

* ``config.json`` — the resolved :class:`TrainConfig` (written first);
* ``checkpoint.pt`` — after every epoch: model, optimizer, scheduler, RNG states, history;
* ``final.pt`` — the trained weights (``{"model": state_dict, "config": dict, "spec": dict}``;
  the dataset spec makes the run loadable without the dataset on disk);
* ``metrics.json`` — per-epoch loss/accuracy/time, the fingerprint of the data it was trained
  on, the environment (versions, threads, device; :mod:`entrobust.environment`) and
  ``"status": "complete"``, written last, so its presence marks a finished run that is never
  retrained.

A run is identified by its config hash *and* by the data it was trained on: a finished run
found for other data under the same dataset name (a replaced ``NAME.npz``) is refused with a
:class:`~entrobust.errors.DataMismatchError`, never reused silently.

Rerunning an interrupted command resumes from ``checkpoint.pt`` and ends with the same weights
as an uninterrupted run (CPU, same thread count): every random stream — model init, data
order, augmentation and attack starts — is seeded and saved.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from filelock import FileLock, Timeout
from torch import nn

from entrobust.atomic import clean_stale_temps, save_torch, write_json
from entrobust.checkpoint import load_checkpoint
from entrobust.data import DatasetSpec, DatasetSplits, augment_batch, load_dataset
from entrobust.device import resolve_device
from entrobust.environment import environment
from entrobust.errors import (
    CheckpointError,
    DataMismatchError,
    EntrobustError,
    TrainingDivergedError,
)
from entrobust.evaluation import accuracy
from entrobust.progress import progress_bar
from entrobust.statefiles import rewrite_derived_json
from entrobust.tensors import as_float_images
from entrobust.training import distributed
from entrobust.training.build import build_model
from entrobust.training.config import TrainConfig
from entrobust.training.overfit import OverfitMonitor
from entrobust.training.runfiles import (
    check_final_payload,
    check_run_dir,
    data_dir_hint,
    final_parts,
    read_metrics,
)

EpochCallback = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class Runtime:
    """How to run, not what to compute: none of these enters the config hash.

    Attributes:
        channels_last: NHWC memory format for convolutions (faster on tensor-core GPUs).
        cudnn_benchmark: let cuDNN pick the fastest kernels (not bit-deterministic).
        compile: ``torch.compile`` the model used for training steps.
    """

    channels_last: bool = False
    cudnn_benchmark: bool = False
    compile: bool = False


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
    final, remedy = run_dir / "final.pt", f"delete {run_dir} to retrain"
    payload = check_final_payload(load_checkpoint(final, remedy=remedy), final, remedy)
    config, spec = final_parts(payload, final, remedy)
    model = _restore_model(config, spec, payload["model"], final)
    metrics = read_metrics(run_dir)
    return TrainedRun(
        run_dir,
        config,
        model.to(resolve_device(str(device))).eval(),
        metrics,
        cached=True,
        spec=spec,
    )


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """A checkpoint-safe (plain types) form of a dataset spec."""
    d = asdict(spec)
    d["mean"], d["std"] = list(spec.mean), list(spec.std)
    return d


def spec_from_dict(d: dict[str, Any]) -> DatasetSpec:
    """Inverse of :func:`spec_to_dict`."""
    return DatasetSpec(**{**d, "mean": tuple(d["mean"]), "std": tuple(d["std"])})


def _restore_model(config: TrainConfig, spec: DatasetSpec, state: dict, path: Path) -> nn.Module:
    model = build_model(config, spec)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as err:
        first = str(err).strip().splitlines()[0][:120]
        raise CheckpointError(f"{path} does not fit {config.arch} ({first})") from None
    return model


def train(
    config: TrainConfig,
    *,
    runs_dir: str | Path = "runs",
    data_dir: str | Path = "data",
    download: bool = False,
    device: str = "auto",
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
    runtime: Runtime | None = None,
    data: DatasetSplits | None = None,
) -> TrainedRun:
    """Train ``config`` (or return the cached finished run); resumes from its checkpoint.

    Args:
        config: from :func:`~entrobust.training.config.make_config`.
        runs_dir: parent directory of run directories.
        data_dir: where datasets (or ``NAME.npz``) live.
        download: let torchvision download a missing dataset.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        progress: show progress (loss, last test accuracy): a bar on a terminal, a few log
            lines otherwise (:func:`entrobust.progress.progress_bar`).
        on_epoch_end: called as ``(epoch, record)`` after each epoch's checkpoint is written.
        runtime: speed options that do not change the maths (channels_last, cudnn.benchmark,
            torch.compile); see :class:`Runtime`.
        data: the config's data split, already loaded (:func:`load_config_data`); loaded here
            when ``None``. A cached run trained on other data is refused.

    Example:
        >>> import tempfile
        >>> from entrobust.training.config import make_config
        >>> cfg = make_config("digits", "normal", profile="ci", epochs=1, train_size=100, test_size=50)
        >>> run = train(cfg, runs_dir=tempfile.mkdtemp(), progress=False, device="cpu")
        >>> run.metrics["status"], run.model.training
        ('complete', False)
    """
    runtime = runtime or Runtime()
    run_dir = run_dir_for(config, runs_dir)
    check_run_dir(run_dir)
    clean_stale_temps(run_dir)  # temporary files of a killed write
    dev = resolve_device(device)
    ctx = distributed.setup(dev)
    dev = distributed.device_for(ctx, dev)
    if data is None:
        data = load_config_data(config, data_dir, download)
    with run_lock(run_dir, ctx) as complete:  # one trainer per run across processes
        if complete:
            run = load_run(run_dir, dev)
            check_run_data(run, data)
            return run
        return _fit(config, run_dir, data, dev, ctx, data_dir, progress, on_epoch_end, runtime)


#: How often a process waiting for another one's training looks again (seconds).
LOCK_POLL_SECONDS = 2.0
_WAIT, _TRAIN, _DONE = 0, 1, 2


def lock_path(run_dir: Path) -> Path:
    """The lock file of a run: ``<runs_dir>/<run_name>/.lock`` (inside it, so that a runs
    directory holds only run directories)."""
    return run_dir / ".lock"


@contextlib.contextmanager
def run_lock(
    run_dir: Path, ctx: distributed.DistContext, *, poll: float = LOCK_POLL_SECONDS
) -> Iterator[bool]:
    """Make this process (job, under torchrun) the only one training ``run_dir``.

    Yields whether the run is already complete (load it) or not (train it, holding the lock).
    A finished run is recognised without touching the lock (read-only runs directories
    work). Otherwise rank 0 takes ``<runs_dir>/<run_name>/.lock`` (an OS lock through
    ``filelock``, released by the kernel when its holder dies, even by SIGKILL), then
    re-checks completeness: a process that waited reuses the run the holder finished, and
    one that finds a killed holder's checkpoint resumes it. Under torchrun only rank 0
    touches the lock; its decision reaches the other ranks at every poll (a short
    collective, so that waiting hours for another job never trips the process group's
    timeout and no rank waits on a lock its own rank 0 holds).
    """
    lock = FileLock(str(lock_path(run_dir))) if ctx.is_main else None
    told = False
    try:
        while True:
            state = _WAIT
            if lock is not None:
                if is_complete(run_dir):
                    state = _DONE
                else:
                    run_dir.mkdir(parents=True, exist_ok=True)
                    try:
                        lock.acquire(timeout=poll)
                        state = _DONE if is_complete(run_dir) else _TRAIN
                    except Timeout:
                        if not told:
                            print(
                                f"entrobust: {run_dir.name} is being trained by another "
                                f"process (lock {lock.lock_file}); waiting to reuse it",
                                file=sys.stderr,
                                flush=True,
                            )
                            told = True
            state = _share(state, ctx)
            if state != _WAIT:
                break
        if lock is not None and state == _DONE and lock.is_locked:
            lock.release()
        yield state == _DONE
    finally:
        if lock is not None and lock.is_locked:
            lock.release()


def _share(value: int, ctx: distributed.DistContext) -> int:
    """Rank 0's ``value`` on every rank (itself when not distributed)."""
    if not ctx.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return int(box[0])


def _fit(
    config: TrainConfig,
    run_dir: Path,
    data: DatasetSplits,
    dev: torch.device,
    ctx: distributed.DistContext,
    data_dir: str | Path,
    progress: bool,
    on_epoch_end: EpochCallback | None,
    runtime: Runtime,
) -> TrainedRun:
    """Train (or resume) ``config`` into ``run_dir``; the caller holds the run's lock."""
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        rewrite_derived_json(run_dir / "config.json", config.to_dict())
    spec = data.spec
    torch.manual_seed(config.seed)
    model = build_model(config, spec).to(dev)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    defense = config.defense_obj()
    monitor = OverfitMonitor.for_run(config, data.x_test, data.y_test, dev)  # fast AT only
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=config.lr_decay
    )
    data_rng = torch.Generator().manual_seed(config.seed + ctx.rank)
    state = {"epoch": 0, "history": [], "seconds": 0.0}
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        state = _resume(ckpt_path, config, model, optimizer, scheduler, data_rng)

    trained = distributed.wrap(model, ctx, dev)
    if runtime.compile:
        trained = torch.compile(trained)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = runtime.cudnn_benchmark
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    batch = distributed.local_batch_size(config.batch_size, ctx)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    bar = progress_bar(
        total=config.epochs * steps_per_epoch,
        initial=state["epoch"] * steps_per_epoch,
        desc=f"train {config.dataset}/{config.defense} s{config.seed}",
        disable=not (progress and ctx.is_main),
        unit="batch",
    )
    with bar:
        for epoch in range(state["epoch"], config.epochs):
            t0 = time.perf_counter()
            trained.train()
            if ctx.active:
                order = distributed.epoch_indices(len(x_train), epoch, config.seed, ctx).to(dev)
            else:
                order = torch.randperm(len(x_train), generator=data_rng).to(dev)
            total, count = 0.0, 0
            for b in range(steps_per_epoch):
                idx = order[b * batch : (b + 1) * batch]
                x = as_float_images(x_train[idx])
                if config.augment:
                    x = augment_batch(x, spec.augment, spec.crop_padding, data_rng)
                if runtime.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast:
                    loss = defense.step(trained, x, y_train[idx])
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDivergedError(
                        f"loss became {value} at epoch {epoch + 1}, batch {b + 1} "
                        f"(lr {optimizer.param_groups[0]['lr']:g}); lower --lr or check the data"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, count = total + value * len(idx), count + len(idx)
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4f}", refresh=False)
            scheduler.step()
            test_acc = accuracy(model, data.x_test, data.y_test)
            record = {
                "epoch": epoch + 1,
                "train_loss": total / count,
                "test_accuracy": test_acc,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
            }
            if monitor is not None:  # PGD accuracy on a held-out batch; warns on a collapse
                record.update(monitor.epoch_record(model, state["history"]))
            state["history"].append(record)
            state["seconds"] += record["seconds"]
            bar.set_postfix(
                epoch=epoch + 1, loss=f"{record['train_loss']:.4f}", test_acc=f"{test_acc:.3f}"
            )
            if ctx.is_main:
                save_torch(
                    ckpt_path,
                    _checkpoint(epoch + 1, state, config, model, optimizer, scheduler, data_rng),
                )
            ctx.barrier()
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)

    model.eval()
    if not ctx.is_main:
        ctx.barrier()  # rank 0 writes the results
        return load_run(run_dir, dev)
    save_torch(
        run_dir / "final.pt",
        {
            "model": model.state_dict(),
            "config": config.to_dict(),
            "spec": spec_to_dict(spec),
            "data_fingerprint": data.source_fingerprint,
        },
    )
    metrics = {
        "status": "complete",
        "clean_accuracy": state["history"][-1]["test_accuracy"],
        "train_seconds": state["seconds"],
        "history": state["history"],
        "device": str(dev),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "data_dir": data_dir_hint(data_dir),  # a hint for later commands, not in the hash
        "data_fingerprint": data.source_fingerprint,
        "environment": environment(dev),
    }
    write_json(run_dir / "metrics.json", metrics)
    ckpt_path.unlink(missing_ok=True)
    ctx.barrier()
    return TrainedRun(run_dir, config, model, metrics, spec=spec)


def load_config_data(
    config: TrainConfig, data_dir: str | Path = "data", download: bool = False
) -> DatasetSplits:
    """The data split ``config`` trains and evaluates on (its subset sizes and data seed).

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
        test_size=config.test_size,
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
        >>> from entrobust.training.config import make_config
        >>> cfg = make_config("digits", "normal", profile="ci", epochs=1, train_size=100,
        ...                   test_size=50)
        >>> run = train(cfg, runs_dir=tempfile.mkdtemp(), progress=False, device="cpu")
        >>> len(load_run_data(run, test_size=20).y_test)
        20
    """
    cfg = run.config
    if test_size is not None:
        cfg = replace(cfg, test_size=test_size)
    data = load_config_data(cfg, data_dir, download)
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


def _checkpoint(epoch, state, config, model, optimizer, scheduler, data_rng) -> dict[str, Any]:
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


def _resume(path, config, model, optimizer, scheduler, data_rng) -> dict[str, Any]:
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
        first = str(err).strip().splitlines()[0][:120]
        raise CheckpointError(f"{path} cannot be resumed ({first}); delete it to retrain") from None
    return {"epoch": ckpt["epoch"], "history": list(ckpt["history"]), "seconds": ckpt["seconds"]}
