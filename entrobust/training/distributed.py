"""Multi-GPU (or multi-process CPU) training through PyTorch's own engine, launched by torchrun.

``torchrun --nproc_per_node=N -m entrobust train ...`` sets ``WORLD_SIZE``/``RANK``/
``LOCAL_RANK``; :func:`setup` then joins the process group (NCCL on CUDA, gloo on CPU), the
runner wraps the model in ``DistributedDataParallel``, splits every epoch with a
``DistributedSampler`` (each rank gets ``batch_size / world_size`` examples of each global
batch, so the config's batch size stays the global one), and only rank 0 writes checkpoints,
the final weights and the metrics.

Example:
    >>> ctx = setup(None)  # not launched by torchrun: a single process
    >>> ctx.active, ctx.world_size, ctx.is_main
    (False, 1, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from entrobust.errors import InvalidValueError


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def launched() -> DistContext:
    """Where this process sits according to torchrun's environment, without joining the
    process group (e.g. to let only rank 0 evaluate and write after training)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    """Whether this process reports (rank 0 under torchrun; always when not launched by it)."""
    return launched().is_main


def setup(device: torch.device | None) -> DistContext:
    """Join the process group when launched by torchrun; a no-op otherwise."""
    ctx = launched()
    if not ctx.active:
        return ctx
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return ctx


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """One GPU per process (``cuda:LOCAL_RANK``); CPU stays CPU."""
    if ctx.active and device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return device


def wrap(model: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else the model itself."""
    if not ctx.active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def local_batch_size(batch_size: int, ctx: DistContext) -> int:
    """The per-process share of the global batch."""
    if batch_size % ctx.world_size:
        raise InvalidValueError(
            f"batch size {batch_size} is not divisible by the {ctx.world_size} processes"
        )
    return batch_size // ctx.world_size


def epoch_indices(n: int, epoch: int, seed: int, ctx: DistContext) -> torch.Tensor:
    """This rank's shuffled indices for ``epoch`` (``DistributedSampler``, seeded)."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(
        range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler))
