"""Loading checkpoints safely: ``weights_only=True`` (no code runs) and one clear error if bad."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from entrobust.errors import CheckpointError


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, turning every failure into :class:`CheckpointError`.

    Example:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.pt"
        >>> _ = bad.write_bytes(b"not a checkpoint")
        >>> load_checkpoint(bad)
        Traceback (most recent call last):
        ...
        entrobust.errors.CheckpointError: checkpoint .../bad.pt is corrupt or not a PyTorch checkpoint (...); delete it to retrain
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
    ) as err:
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({reason}); "
            "delete it to retrain"
        ) from None
