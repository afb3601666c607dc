"""Put a model in eval mode for a while and give it back exactly as it was.

Every submodule's own ``training`` flag is restored, so a model whose parts were in mixed modes
(e.g. a frozen BatchNorm inside a training model) comes back unchanged.

Example:
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train()
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Context manager: ``model.eval()`` inside, each submodule's mode restored on exit."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[nn.Module]:
    """Turn off ``requires_grad`` on every parameter for a while, then restore each flag.

    Libraries that call ``loss.backward()`` would otherwise accumulate into existing ``.grad``
    tensors *in place* (restoring the ``.grad`` reference afterwards cannot undo that), and
    waste time computing parameter gradients that an attack never needs. Gradients with
    respect to the input still flow.

    Example:
        >>> from torch import nn
        >>> net = nn.Linear(2, 2)
        >>> with frozen_parameters(net):
        ...     net.weight.requires_grad
        False
        >>> net.weight.requires_grad
        True
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
