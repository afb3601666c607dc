"""Models entrobust did not train: ``package.module:factory`` plus weights loaded weights-only.

``entrobust attack --model mypkg.nets:make_cnn --weights cnn.pt --dataset cifar10`` builds the
model by calling ``make_cnn()`` (an ``nn.Module`` that takes images in [0, 1] and returns
logits; normalization belongs inside it) and loads ``cnn.pt`` with
``torch.load(weights_only=True)``: a state dict, or a dict holding one under ``"model"``,
``"state_dict"`` or ``"model_state_dict"`` (an entrobust ``final.pt`` qualifies). No code in
the weights file ever runs. Every failure is one line naming the spec or the file.

The current directory is searched first for the module (as ``python -m`` would), so a
``nets.py`` beside you works without installing anything.

Example:
    >>> model = load_factory("torch.nn:Identity")
    >>> type(model).__name__
    'Identity'
    >>> load_factory("torch.nn.Identity")
    Traceback (most recent call last):
    ...
    entrobust.errors.InvalidValueError: --model 'torch.nn.Identity' is not package.module:factory (e.g. mypkg.nets:make_model)
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from entrobust.checkpoint import load_checkpoint
from entrobust.errors import CheckpointError, DataMismatchError, InvalidValueError
from entrobust.tensors import as_float_images, model_device

_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
#: Keys under which a weights file may hold the state dict.
STATE_KEYS = ("model", "state_dict", "model_state_dict")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160]}" if text else type(err).__name__


def load_factory(spec: str) -> nn.Module:
    """Import ``package.module``, call ``factory()`` and check it gave an ``nn.Module``.

    Raises:
        InvalidValueError: a malformed spec, a module that does not import, a missing or
            non-callable factory, a factory that raises or returns something else.
    """
    if not _SPEC.fullmatch(spec):
        raise InvalidValueError(
            f"--model {spec!r} is not package.module:factory (e.g. mypkg.nets:make_model)"
        )
    module_name, attr = spec.split(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:  # user code: any error while importing it
        raise InvalidValueError(
            f"--model {spec}: cannot import {module_name} ({_first_line(err)}); run from the "
            "folder that holds it or install it"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidValueError(f"--model {spec}: {module_name} has no {attr}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidValueError(f"--model {spec}: {attr} is not callable")
    try:
        model = obj()
    except Exception as err:  # user code
        raise InvalidValueError(
            f"--model {spec}: {attr}() raised {_first_line(err)} (it is called with no arguments)"
        ) from None
    if not isinstance(model, nn.Module):
        raise InvalidValueError(
            f"--model {spec}: {attr}() returned {type(model).__name__}, not a torch nn.Module"
        )
    return model


def state_dict_of(payload: Any, path: Path) -> Mapping[str, torch.Tensor]:
    """The state dict in a weights-only payload (itself, or under one of :data:`STATE_KEYS`).

    Example:
        >>> import torch
        >>> sd = {"weight": torch.zeros(1)}
        >>> state_dict_of({"model": sd, "epoch": 3}, Path("w.pt")) is sd
        True
    """
    if isinstance(payload, Mapping):
        for key in STATE_KEYS:
            inner = payload.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                return inner
        if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            return payload
    raise CheckpointError(
        f"weights {path} hold no state dict (expected a state dict, or one under "
        f"{', '.join(repr(k) for k in STATE_KEYS)}); save them with "
        "torch.save(model.state_dict(), FILE)"
    )


def load_weights(model: nn.Module, path: str | os.PathLike, spec: str = "the model") -> None:
    """Load ``path`` (``torch.load(weights_only=True)``) into ``model``, strictly.

    Raises:
        CheckpointError: missing, corrupt or not weights-only file; no state dict in it; keys
            or shapes that do not fit ``model``.
    """
    path = Path(path)
    remedy = "pass a state dict saved with torch.save(model.state_dict(), FILE)"
    state = state_dict_of(load_checkpoint(path, remedy=remedy), path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape of", shapes)):
            if keys:
                more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
                parts.append(f"{what} {', '.join(keys[:3])}{more}")
        raise CheckpointError(f"weights {path} do not fit {spec}: {'; '.join(parts)}")
    model.load_state_dict(state)


def check_model_on(model: nn.Module, x: torch.Tensor, num_classes: int, spec: str) -> None:
    """Run ``model`` on two images of the dataset; one line if it fails or gives the wrong
    number of classes.

    Raises:
        DataMismatchError: the model does not accept these images or does not output
            ``num_classes`` logits.
    """
    from entrobust.modes import eval_mode

    batch = as_float_images(x[:2]).to(model_device(model))
    try:
        with torch.no_grad(), eval_mode(model):
            out = model(batch)
    except Exception as err:  # user code
        raise DataMismatchError(
            f"{spec} fails on images of shape {tuple(batch.shape)} (N, C, H, W in [0, 1]): "
            f"{_first_line(err)}"
        ) from None
    if not isinstance(out, torch.Tensor) or out.shape != (len(batch), num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise DataMismatchError(
            f"{spec} returns {shape} for {len(batch)} images; expected logits of shape "
            f"({len(batch)}, {num_classes})"
        )


def load_external_model(
    spec: str, weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """``factory()`` from ``spec``, ``weights`` loaded into it, on ``device``, in eval mode."""
    from entrobust.device import resolve_device

    model = load_factory(spec)
    if weights is not None:
        load_weights(model, weights, spec)
    return model.to(resolve_device(str(device))).eval()


__all__ = [
    "STATE_KEYS",
    "check_model_on",
    "load_external_model",
    "load_factory",
    "load_weights",
    "state_dict_of",
]
