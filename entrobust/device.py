"""Device selection: ``auto`` picks CUDA when present, else CPU. Nothing hard-codes ``.cuda()``.

A device this machine does not have (``mps`` off a Mac, ``cuda`` without CUDA, ``cuda:7`` on a
machine with fewer GPUs, ``meta`` or other non-compute devices) is refused with one line,
before any data is read (the CLI checks ``--device`` at parse time with :func:`check_device`).

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> check_device("meta")
    Traceback (most recent call last):
    ...
    entrobust.errors.InvalidValueError: device 'meta' cannot run entrobust (it holds no data); use auto, cpu, cuda or cuda:N
"""

from __future__ import annotations

import torch

from entrobust.errors import InvalidValueError

_USE = "use auto, cpu, cuda or cuda:N"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def check_device(name: str) -> str:
    """``name`` if this machine can run on it (without touching the device), else one line.

    Raises:
        InvalidValueError: unknown, unavailable or non-compute device.
    """
    if name == "auto":
        return name
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise InvalidValueError(f"unknown device {name!r}; {_USE}") from None
    if device.type == "cpu":
        return name
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidValueError(f"device {name!r} requested but CUDA is not available here")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise InvalidValueError(
                f"device {name!r} requested but this machine has {count} CUDA device(s) "
                f"(cuda:0 .. cuda:{count - 1})"
            )
        return name
    if device.type == "mps":
        if not _mps_available():
            raise InvalidValueError(
                f"device {name!r} (Apple Metal) is not available on this machine; {_USE}"
            )
        return name
    if device.type == "meta":
        raise InvalidValueError(f"device {name!r} cannot run entrobust (it holds no data); {_USE}")
    raise InvalidValueError(f"device {name!r} is not supported by entrobust; {_USE}")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` if available, else ``mps`` if available, else ``cpu``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(check_device(name))
