"""Model architectures, input normalisation and ensembles.

Every model returned by :func:`get_model` takes images in ``[0, 1]`` and has its per-channel
normalisation as its first layer (:class:`NormalizedModel`).

Example:
    >>> import torch
    >>> from entrobust.models import get_model, list_models
    >>> list_models()
    ['cnn4', 'resnet18', 'tiny', 'tiny-bn', 'wrn34-10']
    >>> model = get_model("tiny", num_classes=10, in_channels=1, mean=[0.5], std=[0.25])
    >>> model(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from entrobust.errors import InvalidValueError
from entrobust.models.cnn4 import cnn4
from entrobust.models.ensemble import Ensemble
from entrobust.models.normalize import Normalize, NormalizedModel
from entrobust.models.resnet import resnet18
from entrobust.models.tiny import tiny, tiny_bn
from entrobust.models.wideresnet import wrn34_10
from entrobust.registry import Registry

__all__ = [
    "MODELS",
    "Ensemble",
    "ModelFactory",
    "Normalize",
    "NormalizedModel",
    "get_ensemble",
    "get_model",
    "list_models",
]

ModelFactory = Callable[[int, int], nn.Module]
"""A factory ``(num_classes, in_channels) -> raw network`` (no normalisation)."""

MODELS: Registry[ModelFactory] = Registry(
    "model",
    {
        "resnet18": resnet18,
        "wrn34-10": wrn34_10,
        "cnn4": cnn4,
        "tiny": tiny,
        "tiny-bn": tiny_bn,
    },
)


def list_models() -> list[str]:
    """The registered model names, sorted.

    Example:
        >>> "resnet18" in list_models()
        True
    """
    return MODELS.names()


def _check_positive_int(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{what} must be a positive integer, got {value!r}")


def get_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> NormalizedModel:
    """Build a freshly initialised model with its input normalisation as first layer.

    Args:
        name: A name from :func:`list_models`.
        num_classes: Number of output logits.
        in_channels: Input image channels.
        mean: Per-channel means (length ``in_channels``), for inputs in ``[0, 1]``.
        std: Per-channel standard deviations (length ``in_channels``).

    Returns:
        ``NormalizedModel(Normalize(mean, std), net)`` computing ``net((x - mean) / std)``.

    Raises:
        UnknownNameError: If ``name`` is not registered (the message lists the valid names).
        InvalidValueError: If ``mean`` or ``std`` does not have ``in_channels`` entries, a std
            is not positive, or ``num_classes`` / ``in_channels`` is not a positive integer.

    Example:
        >>> model = get_model("cnn4", num_classes=10, in_channels=1, mean=[0.1307], std=[0.3081])
        >>> type(model.net).__name__, tuple(model.normalize.std.shape)
        ('CNN4', (1, 1, 1, 1))
    """
    factory = MODELS.require(name)
    _check_positive_int(num_classes, "num_classes")
    _check_positive_int(in_channels, "in_channels")
    if len(mean) != in_channels or len(std) != in_channels:
        raise InvalidValueError(
            f"mean and std need in_channels={in_channels} entries each, "
            f"got {len(mean)} and {len(std)}"
        )
    normalize = Normalize(mean, std)  # validated before building a possibly large network
    return NormalizedModel(normalize, factory(num_classes, in_channels))


def get_ensemble(
    name: str,
    *,
    members: int,
    num_classes: int,
    in_channels: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> Ensemble:
    """Build an :class:`Ensemble` of ``members`` independently initialised normalised models.

    Args:
        name: A name from :func:`list_models`.
        members: Number of members ``K >= 1``.
        num_classes: Number of output logits.
        in_channels: Input image channels.
        mean: Per-channel means (length ``in_channels``).
        std: Per-channel standard deviations (length ``in_channels``).

    Returns:
        An :class:`Ensemble` whose members are :class:`NormalizedModel` instances.

    Raises:
        UnknownNameError: If ``name`` is not registered.
        InvalidValueError: If ``members`` is not a positive integer, or as :func:`get_model`.

    Example:
        >>> ens = get_ensemble("tiny", members=3, num_classes=10, in_channels=1,
        ...                    mean=[0.5], std=[0.5])
        >>> len(ens.members)
        3
    """
    _check_positive_int(members, "members")
    return Ensemble(
        get_model(name, num_classes=num_classes, in_channels=in_channels, mean=mean, std=std)
        for _ in range(members)
    )
