"""Loading checkpoints safely: ``weights_only=True`` (no code runs) and one truthful error if bad.

A refused file is described for what it is — a file that may well be someone else's:

* an empty file, or a broken zip archive: "truncated or corrupt";
* a PyTorch or pickle file holding Python objects: "not a weights-only checkpoint" (it was not
  unpickled, so none of its code ran);
* anything else: "corrupt or not a PyTorch file".

What to do about it depends on the caller (``remedy``): deleting is right for a run's own
``checkpoint.pt``, not for a file the user handed in.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from entrobust.errors import CheckpointError


def first_line(err: BaseException, limit: int = 120) -> str:
    """The first line of an error's message (at most ``limit`` characters; the error's type
    name when the message is empty), for one-line error messages.

    Example:
        >>> first_line(RuntimeError("size mismatch\\nfull details ..."))
        'size mismatch'
        >>> first_line(KeyError())
        'KeyError'
    """
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


def describe_failure(path: Path, err: BaseException) -> str:
    """What a file that ``torch.load(weights_only=True)`` refused is, in words.

    Example:
        >>> import pickle, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "x.pt"
        >>> _ = path.write_bytes(pickle.dumps(object()))
        >>> describe_failure(path, pickle.UnpicklingError("Weights only load failed. ..."))
        'is not a weights-only checkpoint: it holds Python objects that entrobust does not unpickle (nothing in it was run)'
    """
    try:
        with path.open("rb") as f:
            head = f.read(2)
    except OSError:
        head = b""
    if not head:
        return "is empty (a truncated or corrupt file)"
    if head[:2] != b"PK" and head[:1] != b"\x80":  # neither a zip archive nor a pickle
        return f"is corrupt or not a PyTorch file ({first_line(err)})"
    if isinstance(err, pickle.UnpicklingError) and "weights only" in str(err).lower():
        return (
            "is not a weights-only checkpoint: it holds Python objects that entrobust does not "
            "unpickle (nothing in it was run)"
        )
    return f"is truncated or corrupt ({first_line(err)})"


def load_checkpoint(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    remedy: str | None = None,
) -> Any:
    """``torch.load(path, weights_only=True)``, turning every failure into :class:`CheckpointError`.

    Args:
        path: the file.
        map_location: where tensors go.
        remedy: what the user should do, appended to the message (e.g. "delete it to retrain"
            for a run's own checkpoint).

    Example:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.pt"
        >>> _ = bad.write_bytes(b"not a checkpoint")
        >>> load_checkpoint(bad)
        Traceback (most recent call last):
        ...
        entrobust.errors.CheckpointError: checkpoint .../bad.pt is corrupt or not a PyTorch file (...)
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols: one line only
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        ImportError,
    ) as err:
        message = f"checkpoint {path} {describe_failure(path, err)}"
        raise CheckpointError(f"{message}; {remedy}" if remedy else message) from None
