"""Any torchattacks attack behind entrobust's protocol ``attack(model, x, y) -> x_adv``.

torchattacks (Kim, 2020; https://github.com/Harry24k/adversarial-attacks-pytorch) binds an
attack to one model when it is built (``torchattacks.PGD(model, eps=…)``), while entrobust's
attacks take the model at call time. :class:`TorchattacksAttack` wraps a ready-built
torchattacks object and refuses to run it against any other model (silently attacking the wrong
model would give a number for a model nobody evaluated). Budget, [0, 1] range, mode and
``.grad`` restoration are checked by :class:`entrobust.attacks.base.Attack` as for every attack.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

from torch import Tensor, nn

from entrobust.attacks.base import Attack
from entrobust.attacks.threat import check_norm
from entrobust.errors import InvalidValueError
from entrobust.tensors import model_device


def _is_torchattacks_attack(obj: object) -> bool:
    try:
        import torchattacks
    except ImportError:  # pragma: no cover - torchattacks is a dependency
        return False
    return isinstance(obj, torchattacks.attack.Attack)


class TorchattacksAttack(Attack):
    """A torchattacks attack, bound to its model, behind entrobust's protocol.

    Args:
        atk: a torchattacks ``Attack`` object (e.g. ``torchattacks.PGD(model, eps=8/255)``).
        eps: the radius the result is checked against; default ``atk.eps`` when the attack has
            one, else ``math.inf`` (minimal-distortion attacks such as CW or DeepFool: only the
            [0, 1] range is checked).
        norm: ``"linf"`` or ``"l2"``, the ball ``eps`` refers to.
        name: display name; default ``ta-<attack>`` plus ``-<k>`` for an L∞ ε = k/255.

    Shape:
        ``x``: ``(N, C, H, W)`` in [0, 1]; ``y``: ``(N,)`` labels; result like ``x``.

    Raises:
        InvalidValueError: ``atk`` is not a torchattacks attack, a bad ``norm``, or (at call
            time) a model other than the one ``atk`` was built on.

    Example:
        >>> import torch, torchattacks
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> atk = TorchattacksAttack(torchattacks.FGSM(model, eps=8/255))
        >>> atk.name, round(atk.eps * 255)
        ('ta-fgsm-8', 8)
        >>> atk(model, torch.rand(2, 1, 2, 2), torch.tensor([0, 1])).shape
        torch.Size([2, 1, 2, 2])
    """

    def __init__(
        self,
        atk: Any,
        eps: float | None = None,
        norm: str = "linf",
        name: str | None = None,
    ) -> None:
        if not _is_torchattacks_attack(atk):
            raise InvalidValueError(
                f"expected a torchattacks Attack object, got {type(atk).__name__}"
            )
        check_norm(norm)
        if eps is None:
            eps = getattr(atk, "eps", None)
        self.atk = atk
        self.eps = math.inf if eps is None else float(eps)
        self.norm = norm
        if name is None:
            name = f"ta-{str(atk.attack).lower()}"
            if norm == "linf" and math.isfinite(self.eps):
                name += f"-{round(self.eps * 255)}"
        self.name = name

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        if model is not self.atk.model:
            raise InvalidValueError(
                f"{self.name} was built on a different model ({type(self.atk.model).__name__} at "
                f"{id(self.atk.model):#x}) than the one given ({type(model).__name__} at "
                f"{id(model):#x}); torchattacks binds attacks to a model: build it on this one"
            )
        # torchattacks captured the device at construction; follow the model if it moved.
        self.atk.set_device(model_device(model))
        with contextlib.redirect_stdout(io.StringIO()):
            return self.atk(x, y)


def as_attack(obj: Any) -> Attack:
    """Return an entrobust :class:`Attack` as it is, wrap a torchattacks attack, else refuse.

    Example:
        >>> import torchattacks
        >>> from torch import nn
        >>> from entrobust.attacks import PGDAttack
        >>> ours = PGDAttack(8/255, 10)
        >>> as_attack(ours) is ours
        True
        >>> as_attack(torchattacks.FGSM(nn.Linear(2, 2), eps=4/255)).name
        'ta-fgsm-4'
        >>> as_attack("pgd10-8")
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: cannot use str as an attack; ...
    """
    if isinstance(obj, Attack):
        return obj
    if _is_torchattacks_attack(obj):
        return TorchattacksAttack(obj)
    raise InvalidValueError(
        f"cannot use {type(obj).__name__} as an attack; give an entrobust Attack or a "
        "torchattacks Attack (for a name, use entrobust.attacks.get_attack)"
    )


__all__ = ["TorchattacksAttack", "as_attack"]
