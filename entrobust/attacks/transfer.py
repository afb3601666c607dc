"""Black-box transfer attacks: craft on a proxy model, evaluate on targets.

The paper's proxy rule: a Normal model for defenses without adversarial training, a PAT model
for those with it, trained separately on the same data (a different seed). Crafted examples
are cached on disk (keyed by proxy, attack and data) and reused for every target.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import Tensor, nn

from entrobust.atomic import save_torch
from entrobust.attacks.base import Attack, run_attack
from entrobust.checkpoint import load_checkpoint


def proxy_defense(defense: str) -> str:
    """The paper's proxy for ``defense``: ``pat`` for AT defenses, else ``normal``.

    Example:
        >>> proxy_defense("trades-entm"), proxy_defense("ls")
        ('pat', 'normal')
    """
    return "pat" if defense.startswith(("pat", "trades", "mart", "fast")) else "normal"


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
    """A short hash of the evaluated images and labels (cache key)."""
    h = hashlib.sha256()
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def craft_cached(
    proxy: nn.Module,
    attack: Attack,
    x: Tensor,
    y: Tensor,
    cache_file: str | Path,
    batch_size: int = 256,
) -> Tensor:
    """``run_attack(attack, proxy, x, y)``, stored in ``cache_file`` and reused when present."""
    cache_file = Path(cache_file)
    key = data_fingerprint(x, y)
    if cache_file.is_file():
        payload = load_checkpoint(cache_file)
        if payload.get("data") == key and payload.get("attack") == attack.name:
            return payload["x_adv"]
    x_adv = run_attack(attack, proxy, x, y, batch_size)
    save_torch(cache_file, {"data": key, "attack": attack.name, "x_adv": x_adv})
    return x_adv
