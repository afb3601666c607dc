"""Distributed helpers (the 2-process gloo run itself is benchmarks/ddp_check.py)."""

from __future__ import annotations

import pytest
import torch

from entrobust.errors import InvalidValueError
from entrobust.training.distributed import DistContext, epoch_indices, local_batch_size, setup


def test_ranks_partition_each_epoch_and_reshuffle():
    ranks = [DistContext(r, 2) for r in range(2)]
    e0 = [epoch_indices(10, 0, seed=0, ctx=c) for c in ranks]
    assert sorted(torch.cat(e0).tolist()) == list(range(10))
    e1 = [epoch_indices(10, 1, seed=0, ctx=c) for c in ranks]
    assert not torch.equal(torch.cat(e0), torch.cat(e1))
    assert torch.equal(e0[0], epoch_indices(10, 0, seed=0, ctx=ranks[0]))


def test_global_batch_is_split_across_processes():
    assert local_batch_size(64, DistContext(0, 4)) == 16
    with pytest.raises(InvalidValueError, match="divisible"):
        local_batch_size(64, DistContext(0, 3))


def test_single_process_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = setup(torch.device("cpu"))
    assert not ctx.active and ctx.is_main
