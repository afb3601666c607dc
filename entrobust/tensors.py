"""Bottom-floor tensor helpers (torch and the standard library only; every layer may use them).

* :func:`as_float_images`: the one uint8 → [0, 1] float image converter. Datasets keep images
  as uint8 (4x smaller); every model, attack and ε in this library works on [0, 1] floats.
* :func:`model_device`: where a model lives (parameters, then buffers, else the CPU).

Example:
    >>> import torch
    >>> from torch import nn
    >>> as_float_images(torch.tensor([0, 51, 255], dtype=torch.uint8))
    tensor([0.0000, 0.2000, 1.0000])
    >>> model_device(nn.ReLU())
    device(type='cpu')
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def as_float_images(x: Tensor) -> Tensor:
    """uint8 images (0..255) → float32 on the [0, 1] scale, on the same device; floating-point
    images are taken to be on that scale already and returned unchanged (never scaled twice).

    Args:
        x: a uint8 or floating-point tensor of any shape.

    Raises:
        TypeError: any other dtype (integer labels or int64 pixels are not images in [0, 1]).

    Example:
        >>> import torch
        >>> as_float_images(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
        >>> x = torch.rand(2)
        >>> as_float_images(x) is x
        True
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if x.is_floating_point():
        return x
    raise TypeError(f"expected uint8 (0..255) or float ([0, 1]) images; got {x.dtype}")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter, else its first buffer, else the CPU.

    Example:
        >>> from torch import nn
        >>> model_device(nn.Linear(2, 2)), model_device(nn.Identity())
        (device(type='cpu'), device(type='cpu'))
    """
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


__all__ = ["as_float_images", "model_device"]
