"""The evaluation layer: run attacks in batches, seeded, and count what stays correct.

This floor sits above :mod:`entrobust.attacks` (it imports attacks; no attack module imports it)
and below everything that reports a number (bench, audit, analysis, CLI). Every "seed, attack in
batches, count correct" loop goes through here:

* :func:`run_attack`: apply any attack batch by batch, optionally on a private seeded RNG stream;
* :func:`robust_flags`: the primitive (correct both clean and after the attack), with
  :func:`robust_accuracy` its mean; :func:`adversarial_flags` / :func:`adversarial_accuracy`
  for adversarial examples crafted elsewhere (e.g. on a proxy);
* :func:`craft_cached`: a transfer attack's examples, crafted once on the proxy and cached;
* :func:`random_search_report`: Table 10's PGD survivors and the ones random search breaks;
* :func:`predict` / :func:`accuracy`: clean predictions in eval mode, the mode restored.

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

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from entrobust.atomic import save_torch, warn
from entrobust.attacks.base import Attack, AttackBudgetError, check_budget
from entrobust.attacks.random_search import RandomSearch
from entrobust.attacks.torchattacks_adapter import as_attack
from entrobust.checkpoint import load_checkpoint
from entrobust.errors import EntrobustError
from entrobust.modes import eval_mode
from entrobust.progress import progress_bar
from entrobust.seeding import seeded
from entrobust.tensors import as_float_images, model_device


def run_attack(
    attack: Attack | Any,
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    batch_size: int = 256,
    *,
    seed: int | None = None,
    progress: bool | str = False,
) -> Tensor:
    """Apply ``attack`` batch by batch (``x`` may be a large CPU tensor; uint8 is converted).

    ``attack`` is an entrobust :class:`~entrobust.attacks.base.Attack` or any torchattacks
    ``Attack`` built on ``model`` (wrapped by
    :func:`~entrobust.attacks.torchattacks_adapter.as_attack`).

    Args:
        seed: run on a private RNG stream seeded with this (see :func:`entrobust.seeding.seeded`;
            the caller's RNG state is left as it was); ``None`` draws from the caller's stream.
        progress: show the batches done (``True`` or a description; see
            :func:`entrobust.progress.progress_bar`).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from entrobust.attacks import get_attack
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(10, 1, 2, 2), torch.randint(0, 3, (10,))
        >>> run_attack(get_attack("fgsm8"), model, x, y, batch_size=4).shape
        torch.Size([10, 1, 2, 2])
    """
    attack = as_attack(attack)
    starts = range(0, len(x), batch_size)
    desc = progress if isinstance(progress, str) else f"attack {attack.name}"
    out = []
    with (
        seeded(seed, model_device(model)),
        progress_bar(total=len(starts), desc=desc, unit="batch", disable=not progress) as bar,
    ):
        for i in starts:
            out.append(attack(model, as_float_images(x[i : i + batch_size]), y[i : i + batch_size]))
            bar.update(1)
    return torch.cat(out) if out else x.float()


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 512) -> Tensor:
    """Predicted labels for ``x`` (uint8 or [0, 1] floats), computed on the model's device."""
    device = model_device(model)
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
    x_adv = run_attack(attack, model, x, y, batch_size, seed=seed, progress=progress)
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


def data_fingerprint(x: Tensor, y: Tensor) -> str:
    """A short hash of the evaluated images and labels (cache key).

    Example:
        >>> import torch
        >>> x, y = torch.zeros(2, 4), torch.tensor([0, 1])
        >>> data_fingerprint(x, y) == data_fingerprint(x.clone(), y), len(data_fingerprint(x, y))
        (True, 12)
    """
    h = hashlib.sha256()
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def _cache_problem(payload: object, key: str, x: Tensor, attack: Attack) -> str | None:
    """Why a cached adversarial set cannot be used for ``x`` under ``attack``, or None."""
    if not isinstance(payload, dict) or payload.get("key") != key:
        return "was made for other points, attack or proxy"
    x_adv = payload.get("x_adv")
    if not isinstance(x_adv, Tensor) or x_adv.shape != x.shape or x_adv.dtype != torch.float32:
        return f"does not hold float32 images of shape {tuple(x.shape)}"
    try:
        check_budget(x_adv, as_float_images(x), attack.eps, attack.norm, attack.name)
    except AttackBudgetError as err:
        return f"is outside the threat model ({err})"
    if not torch.isfinite(x_adv).all():
        return "holds non-finite values"
    return None


def craft_cached(
    proxy: nn.Module,
    attack: Attack,
    x: Tensor,
    y: Tensor,
    cache_file: str | Path,
    batch_size: int = 256,
    *,
    identity: str = "",
) -> Tensor:
    """``run_attack(attack, proxy, x, y)``, stored in ``cache_file`` and reused when valid.

    The cache is keyed by ``identity`` (the caller's name for the proxy, e.g. its config
    hash, and anything else that changes the result), the attack's full configuration and
    the points; the crafting RNG is seeded from that key, so the set does not depend on
    which target asked for it first. A cached set is checked before use — the key, shape,
    dtype, inside the attack's ε-ball around its points and in [0, 1] — and one that fails is
    recomputed with a one-line warning.

    Example:
        >>> import tempfile, pathlib, torch
        >>> from torch import nn
        >>> from entrobust.attacks import fgsm
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.pt"
        >>> proxy, x, y = nn.Linear(4, 3), torch.rand(5, 4), torch.tensor([0, 1, 2, 0, 1])
        >>> a = craft_cached(proxy, fgsm(8/255), x, y, path, identity="proxy-1")
        >>> torch.equal(a, craft_cached(proxy, fgsm(8/255), x, y, path, identity="proxy-1"))
        True
    """
    cache_file = Path(cache_file)
    key = hashlib.sha256(
        f"{identity}|{attack.config_hash}|{data_fingerprint(x, y)}".encode()
    ).hexdigest()[:16]
    if cache_file.is_file():
        try:
            payload = load_checkpoint(cache_file)
        except EntrobustError as err:
            payload, problem = None, str(err)
        else:
            problem = _cache_problem(payload, key, x, attack)
        if problem is None:
            return payload["x_adv"]
        warn(f"transfer cache {cache_file.name} {problem}; recomputing it")
    with seeded(int(key, 16) % 2**63):  # CPU stream forked, as the crafting always was
        x_adv = run_attack(attack, proxy, x, y, batch_size)
    save_torch(cache_file, {"key": key, "attack": attack.name, "x_adv": x_adv})
    return x_adv


@dataclass(frozen=True)
class RandomSearchReport:
    """Table 10's numbers: points that survive PGD, and how many random search then breaks."""

    n: int
    pgd_survivors: int
    random_breaks: int

    @property
    def break_rate(self) -> float:
        """Fraction of PGD survivors that random search breaks."""
        return self.random_breaks / self.pgd_survivors if self.pgd_survivors else 0.0


def random_search_report(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    pgd_attack: Attack,
    search: RandomSearch,
    batch_size: int = 256,
) -> RandomSearchReport:
    """Run ``pgd_attack``; on the points it fails to break, run ``search``; count both."""
    survived = robust_flags(model, pgd_attack, x, y, batch_size).nonzero().squeeze(1)
    if survived.numel() == 0:
        return RandomSearchReport(len(x), 0, 0)
    still = robust_flags(model, search, x[survived], y[survived], batch_size)
    return RandomSearchReport(len(x), int(survived.numel()), int((~still).sum()))
