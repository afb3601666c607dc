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

from collections.abc import Callable

import torch
from torch import Tensor, nn

from entrobust.modes import eval_mode
from entrobust.seeding import seeded


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


def robust_flags(
    model: nn.Module,
    attack: Callable[[nn.Module, Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    batch_size: int = 256,
    *,
    seed: int | None = None,
    progress: bool | str = False,
) -> Tensor:
    """Which points stay correctly classified under ``attack``: the evaluation primitive.

    A point counts as robust when the model classifies it correctly both clean and after the
    attack, so a point the model already gets wrong is broken whatever the attack returns
    (AutoAttack's convention) and no attack can raise accuracy above the clean one. Every
    accuracy, worst case and cascade in entrobust is computed from these flags.

    Args:
        seed: run the attack on a private RNG stream seeded with this (the caller's RNG state
            is left as it was); ``None`` draws from the caller's stream.
        progress: show the attacked batches (``True`` or a description; see
            :func:`entrobust.progress.progress_bar`).

    Returns:
        A CPU bool tensor of shape ``(len(x),)``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from entrobust.attacks import get_attack
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,))
        >>> flags = robust_flags(model, get_attack("pgd10-8"), x, y)
        >>> flags.dtype, bool((flags <= (predict(model, x) == y)).all())
        (torch.bool, True)
    """
    from entrobust.attacks.base import model_device, run_attack

    with seeded(seed, model_device(model)):
        x_adv = run_attack(attack, model, x, y, batch_size, progress=progress)
    return adversarial_flags(model, x, x_adv, y, batch_size)


def adversarial_flags(
    model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, batch_size: int = 512
) -> Tensor:
    """Which points are correct both on ``x`` and on the given ``x_adv`` (crafted anywhere,
    e.g. on a proxy model for a black-box evaluation); a CPU bool tensor.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,))
        >>> bool((adversarial_flags(model, x, x, y) == (predict(model, x) == y)).all())
        True
    """
    if len(x) == 0:
        return torch.zeros(0, dtype=torch.bool)
    clean_ok = predict(model, x, batch_size) == y.cpu()
    return clean_ok & (predict(model, x_adv, batch_size) == y.cpu())


def robust_accuracy(
    model: nn.Module,
    attack: Callable[[nn.Module, Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    batch_size: int = 256,
    *,
    seed: int | None = None,
) -> float:
    """Fraction of points classified correctly both clean and after ``attack``: the mean of
    :func:`robust_flags` (``nan`` for no points).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from entrobust.attacks import get_attack
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,))
        >>> robust_accuracy(model, get_attack("pgd10-8"), x, y) <= accuracy(model, x, y)
        True
    """
    if len(x) == 0:
        return float("nan")
    return robust_flags(model, attack, x, y, batch_size, seed=seed).float().mean().item()


def adversarial_accuracy(
    model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, batch_size: int = 512
) -> float:
    """Mean of :func:`adversarial_flags` (``nan`` for no points).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(8, 1, 2, 2), torch.randint(0, 3, (8,))
        >>> adversarial_accuracy(model, x, x, y) == accuracy(model, x, y)
        True
    """
    if len(x) == 0:
        return float("nan")
    return adversarial_flags(model, x, x_adv, y, batch_size).float().mean().item()
