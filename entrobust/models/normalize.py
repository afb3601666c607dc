"""Input normalisation as the first layer of a model.

Attacks and defenses in entrobust work on images in ``[0, 1]``; the per-channel
standardisation ``(x - mean) / std`` is part of the model, so that ε-balls, clipping and
gradients are all expressed in pixel space.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from entrobust.errors import InvalidValueError

__all__ = ["Normalize", "NormalizedModel"]


def _as_channel_tensor(values: Sequence[float] | Tensor, what: str) -> Tensor:
    """Convert per-channel statistics to a ``(1, C, 1, 1)`` tensor of the default dtype."""
    t = torch.as_tensor(values, dtype=torch.get_default_dtype()).detach().clone()
    if t.ndim != 1 or t.numel() == 0:
        raise InvalidValueError(
            f"{what} must be a non-empty 1-D sequence, got shape {tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()):
        raise InvalidValueError(f"{what} must be finite, got {t.tolist()}")
    return t.view(1, -1, 1, 1)


class Normalize(nn.Module):
    """Per-channel standardisation ``(x - mean) / std`` with no clamping.

    ``mean`` and ``std`` are persistent buffers of shape ``(1, C, 1, 1)``: they are saved in the
    ``state_dict`` and follow ``.to(device)`` / ``.to(dtype)``.

    Args:
        mean: Per-channel means, length ``C``.
        std: Per-channel standard deviations, length ``C``, all strictly positive.

    Raises:
        InvalidValueError: If the lengths differ, a value is not finite or a std is <= 0.

    Example:
        >>> import torch
        >>> norm = Normalize([0.5], [0.25])
        >>> norm(torch.ones(1, 1, 2, 2)).flatten().tolist()
        [2.0, 2.0, 2.0, 2.0]
        >>> tuple(norm.mean.shape)
        (1, 1, 1, 1)
    """

    mean: Tensor
    std: Tensor

    def __init__(self, mean: Sequence[float] | Tensor, std: Sequence[float] | Tensor) -> None:
        super().__init__()
        mean_t = _as_channel_tensor(mean, "mean")
        std_t = _as_channel_tensor(std, "std")
        if mean_t.shape != std_t.shape:
            raise InvalidValueError(
                "mean and std must have the same length, "
                f"got {mean_t.shape[1]} and {std_t.shape[1]}"
            )
        if not bool((std_t > 0).all()):
            raise InvalidValueError(f"std must be > 0, got {std_t.flatten().tolist()}")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    @property
    def num_channels(self) -> int:
        """The number of channels ``C``."""
        return int(self.mean.shape[1])

    def forward(self, x: Tensor) -> Tensor:
        """Standardise a batch ``x`` of shape ``(N, C, H, W)``."""
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        mean = ", ".join(f"{v:.4g}" for v in self.mean.flatten().tolist())
        std = ", ".join(f"{v:.4g}" for v in self.std.flatten().tolist())
        return f"mean=({mean}), std=({std})"


class NormalizedModel(nn.Module):
    """A network preceded by its input normalisation: ``net(normalize(x))``.

    Inputs are images in ``[0, 1]``; the output is the network's logits.

    Args:
        normalize: The input normalisation.
        net: The raw network, taking normalised inputs.

    Attributes:
        normalize: The :class:`Normalize` first layer.
        net: The raw network.

    Example:
        >>> import torch
        >>> model = NormalizedModel(Normalize([0.5], [0.5]), torch.nn.Flatten())
        >>> model(torch.zeros(1, 1, 1, 2)).tolist()
        [[-1.0, -1.0]]
    """

    def __init__(self, normalize: Normalize, net: nn.Module) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        """Return the logits ``net(normalize(x))`` for images ``x`` in ``[0, 1]``."""
        return self.net(self.normalize(x))
