"""One way to seed an evaluation: a private RNG stream that leaves the caller's untouched.

Example:
    >>> import torch
    >>> before = torch.get_rng_state()
    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> torch.equal(a, b), torch.equal(torch.get_rng_state(), before)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def private_rng(device: torch.device | str = "cpu") -> Iterator[None]:
    """Inside: torch's RNG (CPU, and ``device``'s if CUDA) may be drawn from or reseeded freely
    (e.g. by a library that seeds itself); afterwards the caller's state comes back."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        yield


@contextmanager
def seeded(seed: int | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Inside: torch's RNG (CPU, and ``device``'s if CUDA) seeded with ``seed``; afterwards the
    caller's state comes back. ``seed=None`` does nothing (the caller's stream is used)."""
    if seed is None:
        yield
        return
    with private_rng(device):
        torch.manual_seed(seed)
        yield
