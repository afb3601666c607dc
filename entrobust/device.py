"""Device selection: ``auto`` picks CUDA when present, else CPU. Nothing hard-codes ``.cuda()``.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import torch

from entrobust.errors import InvalidValueError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` if available, else ``mps`` if available, else ``cpu``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError("device 'cuda' requested but CUDA is not available here")
    return device
