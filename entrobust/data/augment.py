"""Batched, vectorised, seeded training augmentation: random crop with zero padding and flips.

This runs on every training step, on the batch's own device, without a Python loop over
examples: each example's crop offset and flip are folded into row and column indices and
applied with two ``gather`` calls.

Example:
    >>> import torch
    >>> x = torch.rand(4, 3, 8, 8)
    >>> out = augment_batch(x, "crop-flip", 2, torch.Generator().manual_seed(0))
    >>> out.shape, out.dtype
    (torch.Size([4, 3, 8, 8]), torch.float32)
    >>> torch.equal(out, augment_batch(x, "crop-flip", 2, torch.Generator().manual_seed(0)))
    True
    >>> augment_batch(x, "none", 4, torch.Generator()) is x
    True
"""

from __future__ import annotations

import torch

from entrobust.data.spec import AUGMENT_KINDS
from entrobust.errors import InvalidValueError


def _check(kind: str, padding: int) -> None:
    if kind not in AUGMENT_KINDS:
        raise InvalidValueError(f"unknown augmentation '{kind}'; valid: {', '.join(AUGMENT_KINDS)}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise InvalidValueError(f"crop padding must be an integer >= 0; got {padding!r}")


def sample_augment_params(
    n: int, kind: str, padding: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw per-example crop offsets and flip flags from ``generator``.

    Offsets are in ``0 .. 2 * padding`` (``padding`` means unshifted); flips are drawn with
    p = 0.5 only for ``"crop-flip"`` (otherwise all ``False``, and no numbers are drawn for
    them). The tensors live on the generator's device.

    Args:
        n: Number of examples.
        kind: ``"crop-flip"``, ``"crop"`` or ``"none"``.
        padding: Zero padding of the crop.
        generator: Source of randomness.

    Returns:
        ``(offset_y, offset_x, flip)``: int64, int64 and bool tensors of shape ``(n,)``.

    Example:
        >>> dy, dx, flip = sample_augment_params(3, "crop", 4, torch.Generator().manual_seed(0))
        >>> bool(((dy >= 0) & (dy <= 8)).all()), bool(flip.any())
        (True, False)
    """
    _check(kind, padding)
    device = generator.device
    if kind == "none":
        zeros = torch.full((n,), padding, dtype=torch.int64, device=device)
        return zeros, zeros.clone(), torch.zeros(n, dtype=torch.bool, device=device)
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=device)
    if kind == "crop-flip":
        flip = torch.randint(0, 2, (n,), generator=generator, device=device).bool()
    else:
        flip = torch.zeros(n, dtype=torch.bool, device=device)
    return offsets[0], offsets[1], flip


def crop_flip(
    x: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    flip: torch.Tensor,
    padding: int,
) -> torch.Tensor:
    """Crop each image of ``x`` at the given offsets of its zero-padded copy, then maybe flip it.

    ``out[n] = pad(x[n], padding)[:, oy:oy + H, ox:ox + W]``, flipped left-right where
    ``flip[n]``, computed without materialising the padded batch.

    Args:
        x: Images, shape ``(N, C, H, W)``, any dtype and device.
        offset_y: Row offsets in ``0 .. 2 * padding``, shape ``(N,)``.
        offset_x: Column offsets in ``0 .. 2 * padding``, shape ``(N,)``.
        flip: Whether to flip each image horizontally, shape ``(N,)``.
        padding: Zero padding on every side.

    Returns:
        A new tensor like ``x``.

    Example:
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)
        >>> crop_flip(x, torch.tensor([0]), torch.tensor([2]), torch.tensor([False]), 1)
        tensor([[[[0., 0., 0.],
                  [1., 2., 0.],
                  [4., 5., 0.]]]])
    """
    if x.dim() != 4:
        raise InvalidValueError(f"augmentation expects NCHW images; got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    device = x.device
    oy = offset_y.to(device=device, dtype=torch.int64)[:, None] - padding
    ox = offset_x.to(device=device, dtype=torch.int64)[:, None] - padding
    col = torch.arange(w, device=device)
    cols = torch.where(flip.to(device)[:, None], w - 1 - col, col) + ox  # (N, W)
    rows = torch.arange(h, device=device) + oy  # (N, H)
    out = x.gather(2, rows.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w))
    inside = ((rows >= 0) & (rows < h))[:, None, :, None] & ((cols >= 0) & (cols < w))[
        :, None, None, :
    ]
    return out.masked_fill_(~inside, 0)


def augment_batch(
    x: torch.Tensor, kind: str, padding: int, generator: torch.Generator
) -> torch.Tensor:
    """Randomly augment a batch: per-example zero-padded random crop and (for crop-flip) flip.

    Deterministic given the generator's state; the output has ``x``'s shape, dtype and device.

    Args:
        x: Images on the [0, 1] scale, shape ``(N, C, H, W)``.
        kind: ``"crop-flip"`` (crop, then flip with p = 0.5), ``"crop"`` or ``"none"``.
        padding: Zero padding of the random crop, in pixels (e.g. 4).
        generator: Source of randomness (on any device; draws are moved to ``x``'s device).

    Returns:
        The augmented batch (``x`` itself for ``"none"``).

    Raises:
        InvalidValueError: For an unknown ``kind``, a negative ``padding`` or non-NCHW ``x``.
    """
    _check(kind, padding)
    if kind == "none":
        return x
    if x.dim() != 4:
        raise InvalidValueError(f"augmentation expects NCHW images; got shape {tuple(x.shape)}")
    offset_y, offset_x, flip = sample_augment_params(len(x), kind, padding, generator)
    return crop_flip(x, offset_y, offset_x, flip, padding)
