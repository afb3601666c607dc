"""Batched clean predictions and accuracy, in eval mode, with the model's mode restored.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2)); _ = model.bias.zero_()
    >>> accuracy(model, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    0.5
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from entrobust.modes import eval_mode


def as_float_images(x: Tensor) -> Tensor:
    """uint8 images → float in [0, 1]; float images are returned unchanged."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 512) -> Tensor:
    """Predicted labels for ``x`` (uint8 or [0, 1] floats), computed on the model's device."""
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb = as_float_images(x[start : start + batch_size].to(device))
            out.append(model(xb).argmax(dim=1).cpu())
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 512) -> float:
    """Fraction of ``x`` classified as ``y``."""
    if len(x) == 0:
        return float("nan")
    return (predict(model, x, batch_size) == y.cpu()).float().mean().item()
