"""Shared fixtures: a tiny CI config and isolated runs/data directories."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


# One intra-op thread for the whole session (module-scoped fixtures included): the same thread
# count everywhere makes CPU results bit-reproducible, and tiny models on 2 shared cores run
# far faster without thread hand-off.
torch.set_num_threads(1)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
