"""ART's PGD (Adversarial Robustness Toolbox 1.20) — an independent PGD to cross-check ours.

Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018
(https://arxiv.org/abs/1706.06083), as implemented by ART's
``ProjectedGradientDescentPyTorch`` on a ``PyTorchClassifier`` (cross-entropy, ``clip_values =
(0, 1)``). Each step: ``x' ← clip_[0,1](x' + step · sign ∇CE)`` (L∞; L2: the normalised
gradient), then project ``x' − x`` onto the ε-ball. With ``restarts = 0`` it starts at ``x``
and is deterministic; ``restarts = r ≥ 1`` runs r uniform random starts and keeps, per example,
the last successful one.

ART runs the model through its own wrapper and sets ``model.train(training_mode)`` on every
prediction and gradient; its attacks call them with ``training_mode=False``, so the model runs
in eval mode (BatchNorm running statistics, no dropout). ART moves the model to *its* device:
we make that ``x``'s device. The caller's mode, ``.grad`` and device are restored by
:class:`entrobust.attacks.base.Attack`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from entrobust.attacks.base import Attack
from entrobust.attacks.threat import check_radius
from entrobust.errors import InvalidValueError


@contextlib.contextmanager
def _on_device(device: torch.device) -> Iterator[None]:
    """Make ``device`` the current CUDA device (ART picks ``cuda:current_device()``)."""
    if device.type == "cuda":
        with torch.cuda.device(device):
            yield
    else:
        yield


@contextlib.contextmanager
def _quiet_art() -> Iterator[None]:
    """Hide ART's INFO chatter ("Success rate of attack…", "Inferred …") for the call."""
    logger = logging.getLogger("art")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


class ARTPGD(Attack):
    """ART's ``ProjectedGradientDescentPyTorch`` on CE, behind entrobust's protocol.

    Args:
        eps: radius (L∞: fraction of [0, 1], e.g. 8/255; L2: Euclidean).
        steps: PGD iterations (ART's ``max_iter``).
        step_size: ART's ``eps_step``; default ``eps / 10`` (the paper's k/2550).
        norm: ``"linf"`` or ``"l2"``.
        restarts: ART's ``num_random_init`` (0: start at ``x``, deterministic).
        batch_size: ART's internal batch size.
        name: default ``art-pgd{steps}-{k}`` (L∞ ε = k/255) or ``art-l2pgd{steps}-{eps}``.

    Shape:
        ``x``: ``(N, C, H, W)`` in [0, 1]; ``y``: ``(N,)``; result: a tensor like ``x``, on
        ``x``'s device. The model must return logits.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> atk = ARTPGD(8/255, steps=5)
        >>> atk.name, round(atk.step_size * 2550)
        ('art-pgd5-8', 8)
        >>> x_adv = atk(model, torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 0]))
        >>> x_adv.shape, x_adv.dtype
        (torch.Size([4, 1, 2, 2]), torch.float32)
    """

    def __init__(
        self,
        eps: float,
        steps: int,
        step_size: float | None = None,
        *,
        norm: str = "linf",
        restarts: int = 0,
        batch_size: int = 256,
        name: str | None = None,
    ) -> None:
        check_radius(eps, norm)
        if steps < 1 or restarts < 0 or batch_size < 1:
            raise InvalidValueError("need steps ≥ 1, restarts ≥ 0 and batch_size ≥ 1")
        self.eps, self.norm, self.steps = float(eps), norm, int(steps)
        self.step_size = self.eps / 10 if step_size is None else float(step_size)
        if self.step_size <= 0:
            raise InvalidValueError(f"step size must be > 0, got {self.step_size:g}")
        self.restarts, self.batch_size = int(restarts), int(batch_size)
        if name is None:
            name = (
                f"art-pgd{steps}-{round(self.eps * 255)}"
                if norm == "linf"
                else f"art-l2pgd{steps}-{self.eps:g}"
            )
        self.name = name

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        from art.attacks.evasion import ProjectedGradientDescentPyTorch
        from art.estimators.classification import PyTorchClassifier

        if len(x) == 0:
            return x.clone()
        with torch.no_grad():
            n_classes = int(model(x[:1]).shape[1])
        with _on_device(x.device), _quiet_art():
            classifier = PyTorchClassifier(
                model,
                loss=nn.CrossEntropyLoss(),
                input_shape=tuple(x.shape[1:]),
                nb_classes=n_classes,
                clip_values=(0.0, 1.0),
                device_type="gpu" if x.is_cuda else "cpu",
            )
            attack = ProjectedGradientDescentPyTorch(
                classifier,
                norm=np.inf if self.norm == "linf" else 2,
                eps=self.eps,
                eps_step=self.step_size,
                max_iter=self.steps,
                num_random_init=self.restarts,
                batch_size=self.batch_size,
                verbose=False,
            )
            x_np = x.detach().cpu().numpy().astype(np.float32)
            x_adv = attack.generate(x_np, y=y.detach().cpu().numpy())
        return torch.from_numpy(x_adv).to(device=x.device, dtype=x.dtype).clamp_(0.0, 1.0)


__all__ = ["ARTPGD"]
