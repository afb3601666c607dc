"""Build the model a config describes (an ensemble for ADP), normalization included."""

from __future__ import annotations

from torch import nn

from entrobust.data import DatasetSpec
from entrobust.defenses import trainer_of
from entrobust.models import get_ensemble, get_model
from entrobust.training.config import TrainConfig


def build_model(config: TrainConfig, spec: DatasetSpec) -> nn.Module:
    """A fresh, randomly initialised model for ``config`` (uses the global torch RNG).

    Example:
        >>> from entrobust.data import get_dataset_spec
        >>> from entrobust.training.config import make_config
        >>> cfg = make_config("digits", "adp", profile="ci")
        >>> type(build_model(cfg, get_dataset_spec("digits"))).__name__
        'Ensemble'
    """
    kwargs = dict(
        num_classes=spec.num_classes, in_channels=spec.in_channels, mean=spec.mean, std=spec.std
    )
    if trainer_of(config.defense).ensemble:
        return get_ensemble(config.arch, members=config.adp_members, **kwargs)
    return get_model(config.arch, **kwargs)
