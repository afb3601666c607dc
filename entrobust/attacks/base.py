"""The one attack protocol: ``attack(model, x, y) -> x_adv``.

Every attack — ours, torchattacks', ART's, AutoAttack — is called the same way and gives the
same guarantees, enforced here rather than trusted:

* ``x`` and the result are images in [0, 1]; the result is detached and on ``x``'s device;
* the result lies in the ε-ball (L∞ or L2) around ``x`` and in [0, 1] — checked after every
  call, a violation raises :class:`AttackBudgetError` (a wrong number is worse than none);
* the model's train/eval mode (of every submodule) and its parameters' ``.grad`` are exactly as
  before the call: attacks run the model in eval mode with ``requires_grad`` off on every
  parameter (so no library's ``.backward()`` can add into existing gradients, and no time is
  spent on parameter gradients).
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor, nn

from entrobust.errors import EntrobustError
from entrobust.modes import eval_mode, frozen_parameters
from entrobust.tensors import model_device


class AttackBudgetError(EntrobustError):
    """An attack returned a point outside its ε-ball or outside [0, 1]."""


def check_budget(x_adv: Tensor, x: Tensor, eps: float, norm: str, name: str = "attack") -> None:
    """Raise :class:`AttackBudgetError` unless ``x_adv`` is in the ``norm``-ball and [0, 1]."""
    if x_adv.shape != x.shape:
        raise AttackBudgetError(
            f"{name} changed the input shape {tuple(x.shape)} → {tuple(x_adv.shape)}"
        )
    if x_adv.numel() == 0:
        return
    lo, hi = x_adv.min().item(), x_adv.max().item()
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise AttackBudgetError(f"{name} left [0, 1]: values in [{lo:.4g}, {hi:.4g}]")
    if math.isinf(eps):
        return
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)
    tol = 1e-6 if norm == "linf" else 1e-5 * max(1.0, eps)
    if size.max().item() > eps + tol:
        raise AttackBudgetError(
            f"{name} left its {norm} ball: ‖δ‖ = {size.max().item():.6g} > ε = {eps:.6g}"
        )


class Attack(ABC):
    """Base class: subclasses implement :meth:`perturb`; ``__call__`` adds the guarantees.

    Attributes:
        name: the attack's name in the paper's notation (e.g. ``pgd40-8``).
        eps: the radius (``math.inf`` for minimal-distortion attacks).
        norm: ``"linf"`` or ``"l2"``.
    """

    name: str = "attack"
    eps: float = math.inf
    norm: str = "linf"

    @abstractmethod
    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Return adversarial images for ``x`` (model already in eval mode, same device)."""

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        device = model_device(model)
        x_in, y_in = x.detach().to(device), y.detach().to(device)
        grads = [(p, p.grad) for p in model.parameters()]  # some libraries call zero_grad()
        try:
            with eval_mode(model), frozen_parameters(model):
                x_adv = self.perturb(model, x_in, y_in).detach()
        finally:
            for p, g in grads:
                p.grad = g
        check_budget(x_adv, x_in, self.eps, self.norm, self.name)
        return x_adv.to(x.device)

    #: False for attacks whose result does not depend on the RNG (repeating them is pointless).
    randomized: bool = True

    def config(self) -> dict[str, Any]:
        """Every setting that can change this attack's result, as plain JSON-ready values.

        Collected from the instance's attributes: numbers, strings, booleans, ``None``,
        sequences of those, nested attacks (their own ``config()``), and callables by their
        qualified name plus the plain values they close over (e.g. a smoothed-label loss's γ).
        Models, tensors and other objects are left out (an attack holding one, e.g. a transfer
        proxy, must add what identifies it itself).

        Example:
            >>> from entrobust.attacks import get_attack
            >>> c = get_attack("pgd10-8").config()
            >>> c["class"], c["steps"], c["restarts"], c["init"], c["init_std"]
            ('PGDAttack', 10, 5, 'normal', 0.005)
        """
        out: dict[str, Any] = {"class": type(self).__name__}
        for key, value in sorted(vars(self).items()):
            if key.startswith("_"):  # private: how it runs (e.g. progress display), not what
                continue
            plain = _plain(value)
            if plain is not _SKIP:
                out[key] = plain
        out.setdefault("eps", _plain(self.eps))
        out.setdefault("norm", self.norm)
        return out

    @property
    def config_hash(self) -> str:
        """12 hex digits of the SHA-256 of :meth:`config`: the attack's identity in results.

        Example:
            >>> from entrobust.attacks import AttackOptions, get_attack
            >>> a = get_attack("pgd10-8").config_hash
            >>> a == get_attack("pgd10-8").config_hash
            True
            >>> a == get_attack("pgd10-8", AttackOptions(restarts=1)).config_hash
            False
        """
        blob = json.dumps(self.config(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{k}={v!r}" for k, v in self.config().items() if k not in ("class", "name")
        )
        return f"{type(self).__name__}({self.name!r}, {settings})"


_SKIP = object()

#: Modules renamed after attack configurations were first hashed: a callable is named by its
#: module's old path, so every config hash (the key of stored results and transfer caches)
#: stays what it was.
_CONFIG_MODULE_NAMES = {"entrobust.attacks.attack_losses": "entrobust.attacks.losses"}


def _plain(value: Any) -> Any:
    """A JSON-ready form of an attack attribute, or ``_SKIP`` for things that are not settings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Attack):
        return value.config()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _SKIP if any(i is _SKIP for i in items) else items
    if callable(value) and hasattr(value, "__qualname__") and not isinstance(value, type):
        module = getattr(value, "__module__", "")
        cells = getattr(value, "__closure__", None) or ()
        bound = [_plain(c.cell_contents) for c in cells]
        return {
            "callable": f"{_CONFIG_MODULE_NAMES.get(module, module)}.{value.__qualname__}",
            "closure": [b for b in bound if b is not _SKIP],
        }
    return _SKIP  # models, threat-model balls (their ε is ``eps``), tensors, ...
