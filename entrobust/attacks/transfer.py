"""Black-box transfer attacks: craft on a proxy model, evaluate on targets.

The paper's proxy rule: a Normal model for defenses without adversarial training, a PAT model
for those with it, trained separately on the same data (a different seed). Crafted examples
are cached on disk (keyed by proxy, the attack's full configuration and the points), checked
before reuse, and reused for every target.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import Tensor, nn

from entrobust.atomic import save_torch, warn
from entrobust.attacks.base import Attack, AttackBudgetError, check_budget, run_attack
from entrobust.checkpoint import load_checkpoint
from entrobust.errors import EntrobustError
from entrobust.evaluation import as_float_images


class TransferAttack(Attack):
    """Ignore the target's gradients: return ``attack(proxy, x, y)``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from entrobust.attacks.pgd_attack import fgsm
        >>> proxy, target = nn.Linear(4, 3), nn.Linear(4, 3)
        >>> TransferAttack(proxy, fgsm(8/255))(target, torch.rand(2, 4), torch.tensor([0, 1])).shape
        torch.Size([2, 4])
    """

    def __init__(self, proxy: nn.Module, attack: Attack) -> None:
        self.proxy, self.attack = proxy, attack
        self.eps, self.norm = attack.eps, attack.norm
        self.name = f"transfer-{attack.name}"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return self.attack(self.proxy, x, y)


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
        >>> from entrobust.attacks.pgd_attack import fgsm
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
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(key, 16) % 2**63)
        x_adv = run_attack(attack, proxy, x, y, batch_size)
    save_torch(cache_file, {"key": key, "attack": attack.name, "x_adv": x_adv})
    return x_adv
