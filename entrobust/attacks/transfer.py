"""Black-box transfer attacks: craft on a proxy model, evaluate on targets.

The paper's proxy rule: a Normal model for defenses without adversarial training, a PAT model
for those with it, trained separately on the same data (a different seed). Crafting once and
caching the examples for every target is the evaluation layer's job
(:func:`entrobust.evaluation.craft_cached`).
"""

from __future__ import annotations

from torch import Tensor, nn

from entrobust.attacks.base import Attack


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
