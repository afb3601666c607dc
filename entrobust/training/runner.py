"""Train a config to completion: resumable, cached by config hash, atomic, with progress.

The run directory (its layout, loading a finished run, its data split, the mid-training
checkpoint) is :mod:`entrobust.training.rundir`; this module holds the train-or-load
decision (one trainer per run across processes, :func:`run_lock`) and the epoch loop.

A run is identified by its config hash *and* by the data it was trained on: a finished run
found for other data under the same dataset name (a replaced ``NAME.npz``) is refused with a
:class:`~entrobust.errors.DataMismatchError`, never reused silently. ``metrics.json`` records
per-epoch loss/accuracy/time, the fingerprint of the data, the environment (versions,
threads, device; :mod:`entrobust.environment`) and ``"status": "complete"``.

Rerunning an interrupted command resumes from ``checkpoint.pt`` and ends with the same weights
as an uninterrupted run (CPU, same thread count): every random stream — model init, data
order, augmentation and attack starts — is seeded and saved.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from filelock import FileLock, Timeout
from torch import nn

from entrobust.atomic import clean_stale_temps, save_torch, write_json
from entrobust.data import DatasetSplits, augment_batch
from entrobust.device import resolve_device
from entrobust.environment import environment
from entrobust.errors import TrainingDivergedError
from entrobust.evaluation import accuracy
from entrobust.progress import progress_bar
from entrobust.statefiles import rewrite_derived_json
from entrobust.tensors import as_float_images
from entrobust.training import distributed
from entrobust.training.build import build_model
from entrobust.training.config import TrainConfig
from entrobust.training.overfit import NotLearnedWarning, OverfitMonitor, near_chance
from entrobust.training.rundir import (
    TrainedRun,
    check_run_data,
    checkpoint_path,
    is_complete,
    load_config_data,
    load_run,
    load_run_data,
    make_checkpoint,
    resume_checkpoint,
    run_dir_for,
    spec_from_dict,
    spec_to_dict,
)
from entrobust.training.runfiles import check_run_dir, data_dir_hint

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


@dataclass
class _Training:
    """What one training holds across its epochs (built by :func:`_prepare`)."""

    config: TrainConfig
    run_dir: Path
    data: DatasetSplits
    dev: torch.device
    ctx: distributed.DistContext
    runtime: Runtime
    model: nn.Module
    trained: nn.Module  # the model the steps run (DDP-wrapped, compiled)
    defense: Any
    monitor: OverfitMonitor | None
    optimizer: torch.optim.Optimizer
    scheduler: Any
    data_rng: torch.Generator
    state: dict[str, Any] = field(default_factory=dict)


def _prepare(
    config: TrainConfig,
    run_dir: Path,
    data: DatasetSplits,
    dev: torch.device,
    ctx: distributed.DistContext,
    runtime: Runtime,
) -> _Training:
    """The model, optimizer, scheduler and RNGs of ``config``, resumed from its checkpoint."""
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        rewrite_derived_json(run_dir / "config.json", config.to_dict())
    torch.manual_seed(config.seed)
    model = build_model(config, data.spec).to(dev)
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
    ckpt_path = checkpoint_path(run_dir)
    if ckpt_path.exists():
        state = resume_checkpoint(ckpt_path, config, model, optimizer, scheduler, data_rng)
    trained = distributed.wrap(model, ctx, dev)
    if runtime.compile:
        trained = torch.compile(trained)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = runtime.cudnn_benchmark
    return _Training(
        config, run_dir, data, dev, ctx, runtime, model, trained, defense, monitor,
        optimizer, scheduler, data_rng, state,
    )  # fmt: skip


def _epoch_loss(t: _Training, epoch: int, x_train, y_train, batch: int, steps: int, bar) -> float:
    """One epoch of training steps; returns the mean training loss."""
    config, autocast = t.config, _autocast(t)
    t.trained.train()
    if t.ctx.active:
        order = distributed.epoch_indices(len(x_train), epoch, config.seed, t.ctx).to(t.dev)
    else:
        order = torch.randperm(len(x_train), generator=t.data_rng).to(t.dev)
    total, count = 0.0, 0
    for b in range(steps):
        idx = order[b * batch : (b + 1) * batch]
        x = as_float_images(x_train[idx])
        if config.augment:
            x = augment_batch(x, t.data.spec.augment, t.data.spec.crop_padding, t.data_rng)
        if t.runtime.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            loss = t.defense.step(t.trained, x, y_train[idx])
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"loss became {value} at epoch {epoch + 1}, batch {b + 1} "
                f"(lr {t.optimizer.param_groups[0]['lr']:g}); lower --lr or check the data"
            )
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t.optimizer.step()
        total, count = total + value * len(idx), count + len(idx)
        bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{total / count:.4f}", refresh=False)
    return total / count


def _autocast(t: _Training):
    return torch.autocast(t.dev.type, dtype=torch.bfloat16, enabled=t.config.precision == "bf16")


def _end_epoch(t: _Training, epoch: int, train_loss: float, seconds_from: float, bar) -> dict:
    """After an epoch's steps: the scheduler, test accuracy, the record and the checkpoint."""
    t.scheduler.step()
    test_acc = accuracy(t.model, t.data.x_test, t.data.y_test)
    record = {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "test_accuracy": test_acc,
        "lr": t.optimizer.param_groups[0]["lr"],
        "seconds": time.perf_counter() - seconds_from,
    }
    if t.monitor is not None:  # PGD accuracy on a held-out batch; warns on a collapse
        record.update(t.monitor.epoch_record(t.model, t.state["history"]))
    t.state["history"].append(record)
    t.state["seconds"] += record["seconds"]
    bar.set_postfix(epoch=epoch + 1, loss=f"{train_loss:.4f}", test_acc=f"{test_acc:.3f}")
    if t.ctx.is_main:
        save_torch(
            checkpoint_path(t.run_dir),
            make_checkpoint(
                epoch + 1, t.state, t.config, t.model, t.optimizer, t.scheduler, t.data_rng
            ),
        )
    t.ctx.barrier()
    return record


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
    t = _prepare(config, run_dir, data, dev, ctx, runtime)
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    batch = distributed.local_batch_size(config.batch_size, ctx)
    steps = math.ceil(len(x_train) / config.batch_size)
    bar = progress_bar(
        total=config.epochs * steps,
        initial=t.state["epoch"] * steps,
        desc=f"train {config.dataset}/{config.defense} s{config.seed}",
        disable=not (progress and ctx.is_main),
        unit="batch",
    )
    with bar:
        for epoch in range(t.state["epoch"], config.epochs):
            t0 = time.perf_counter()
            loss = _epoch_loss(t, epoch, x_train, y_train, batch, steps, bar)
            record = _end_epoch(t, epoch, loss, t0, bar)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)
    t.model.eval()
    if not ctx.is_main:
        ctx.barrier()  # rank 0 writes the results
        return load_run(run_dir, dev)
    return _finish(t, data_dir)


def _finish(t: _Training, data_dir: str | Path) -> TrainedRun:
    """Rank 0 after the last epoch: ``final.pt``, then ``metrics.json`` (the run is finished),
    then the mid-training checkpoint goes."""
    data, state = t.data, t.state
    save_torch(
        t.run_dir / "final.pt",
        {
            "model": t.model.state_dict(),
            "config": t.config.to_dict(),
            "spec": spec_to_dict(data.spec),
            "data_fingerprint": data.source_fingerprint,
        },
    )
    metrics = {
        "status": "complete",
        "clean_accuracy": state["history"][-1]["test_accuracy"],
        "train_seconds": state["seconds"],
        "history": state["history"],
        "device": str(t.dev),
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "data_dir": data_dir_hint(data_dir),  # a hint for later commands, not in the hash
        "data_fingerprint": data.source_fingerprint,
        "environment": environment(t.dev),
    }
    write_json(t.run_dir / "metrics.json", metrics)
    checkpoint_path(t.run_dir).unlink(missing_ok=True)
    if near_chance(metrics["clean_accuracy"], data.spec.num_classes):
        c = t.config
        warnings.warn(
            f"{c.dataset}/{c.defense} seed {c.seed}: clean accuracy "
            f"{metrics['clean_accuracy']:.2%} is near chance ({1 / data.spec.num_classes:.0%}): "
            "the model did not learn (train longer, lower --lr or --at-eps); its robust "
            "accuracies measure no defense",
            NotLearnedWarning,
            stacklevel=2,
        )
    t.ctx.barrier()
    return TrainedRun(t.run_dir, t.config, t.model, metrics, spec=data.spec)


__all__ = [
    "LOCK_POLL_SECONDS",
    "Runtime",
    "TrainedRun",
    "check_run_data",
    "is_complete",
    "load_config_data",
    "load_run",
    "load_run_data",
    "lock_path",
    "run_dir_for",
    "run_lock",
    "spec_from_dict",
    "spec_to_dict",
    "train",
]
