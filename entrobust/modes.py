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
