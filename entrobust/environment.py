"""What a number was computed with: library versions, threads and device.

Recorded in every run's ``metrics.json`` and every results directory's ``environment.json``.
On CPU, the same code, config and seeds give bit-identical numbers only with the same torch
version and the same thread count (reductions are split across threads); on CUDA also the same
GPU model, CUDA/cuDNN versions and ``cudnn.benchmark`` off. The entrobust version matters as
the code of the method itself. The other entries (Python, numpy, the attack libraries for
their attacks) are recorded for completeness.

Example:
    >>> env = environment("cpu")
    >>> sorted(k for k in env if k in ("device", "entrobust", "threads", "torch"))
    ['device', 'entrobust', 'threads', 'torch']
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import torch

_PACKAGES = ("entrobust", "torch", "torchvision", "numpy", "torchattacks", "pyautoattack")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Versions, thread count and device of this process, as a JSON-ready dict."""
    dev = torch.device(device)
    env: dict[str, Any] = {p: _version(p) for p in _PACKAGES}
    env.update(
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        threads=torch.get_num_threads(),
        device=str(dev),
        cuda=torch.version.cuda if dev.type == "cuda" else None,
        cudnn=torch.backends.cudnn.version() if dev.type == "cuda" else None,
        gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
    )
    return env
