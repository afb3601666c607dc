"""Loss and decision-margin surfaces around one image (Appendix C.2, Figs. 5–6).

``X' = X + ε₁·d₁ + ε₂·d₂`` with ``d₁ = sign(∇_X CE(f_σ(X), y))`` (the gradient-sign direction)
and ``d₂`` a random ±1 sign vector (so ``‖d₂‖_∞ = 1``, seeded), for ε₁, ε₂ on a ``grid × grid``
lattice of [−r, r] (paper: r = 0.04 ≈ 10/255; the resolution is not stated). At each point we
record ``CE(f(X'), y)`` (Fig. 5) and the margin ``M_{f,X'} = f_y − max_{i≠y} f_i`` on logits
(Fig. 6; M < 0 means misclassified).

Choices where the paper is silent: ``X'`` is clipped to [0, 1] (``clip=True``), so every
point is a valid image like every attack's; the margin is plotted unclipped (the paper's "areas
where M = 0" suggest a clamp at 0; we draw the M = 0 contour instead). When the input gradient
is exactly zero (e.g. a quantizing model), ``d₁`` is zero and the surface varies along ``d₂``
only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.analysis.jacobian import decision_margin
from entrobust.modes import eval_mode, frozen_parameters
from entrobust.tensors import as_float_images, model_device

SURFACE_RADIUS = 0.04
SURFACE_GRID = 21


def surface_directions(
    model: nn.Module, x: Tensor, y: Tensor, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``(d₁, d₂)`` for one image ``x`` of shape ``(1, ...)``: gradient sign and random signs.

    Example:
        >>> import torch
        >>> d1, d2 = surface_directions(torch.nn.Linear(4, 3), torch.rand(1, 4), torch.tensor([0]))
        >>> d1.abs().max().item(), d2.abs().max().item()
        (1.0, 1.0)
    """
    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model), frozen_parameters(model), torch.enable_grad():
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    gen = torch.Generator().manual_seed(seed)
    d2 = (2 * torch.randint(0, 2, tuple(x.shape), generator=gen) - 1).to(x.device, x.dtype)
    return grad.sign().detach(), d2


@torch.no_grad()
def loss_surface(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    radius: float = SURFACE_RADIUS,
    grid: int = SURFACE_GRID,
    seed: int = 0,
    clip: bool = True,
    batch_size: int = 512,
) -> pd.DataFrame:
    """CE loss and margin on the ``grid × grid`` plane spanned by ``d₁, d₂`` around ``x``.

    Args:
        model: maps [0, 1] images to logits.
        x: one image, shape ``(1, C, H, W)`` (or ``(C, H, W)``), uint8 or in [0, 1].
        y: its label (shape ``(1,)`` or scalar).
        radius: the largest |ε₁|, |ε₂| (paper: 0.04).
        grid: points per axis.
        seed: seed of ``d₂``.
        clip: clip ``X'`` to [0, 1].
        batch_size: plane points per forward pass.

    Returns:
        Columns ``eps1, eps2, loss, margin, pred`` (``grid²`` rows, ``eps1`` major).

    Example:
        >>> import torch
        >>> s = loss_surface(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)),
        ...                  torch.rand(1, 1, 2, 2), torch.tensor(1), grid=3)
        >>> s.shape, float(s["eps1"].min())
        ((9, 5), -0.04)
    """
    device = model_device(model)
    x = as_float_images(x if x.dim() > 1 and x.shape[0] == 1 else x.unsqueeze(0)).to(device)
    y = y.reshape(1).to(device)
    with torch.enable_grad():
        d1, d2 = surface_directions(model, x, y, seed)
    axis = np.linspace(-radius, radius, grid)
    g1, g2 = (a.reshape(-1) for a in np.meshgrid(axis, axis, indexing="ij"))
    e1, e2 = (torch.as_tensor(a, device=device, dtype=x.dtype) for a in (g1, g2))
    shape = (-1, *([1] * (x.dim() - 1)))
    losses, margins, preds = [], [], []
    with eval_mode(model):
        for s in range(0, len(e1), batch_size):
            pts = (
                x
                + e1[s : s + batch_size].view(shape) * d1
                + e2[s : s + batch_size].view(shape) * d2
            )
            if clip:
                pts = pts.clamp(0.0, 1.0)
            logits = model(pts)
            yy = y.expand(len(pts))
            losses.append(F.cross_entropy(logits, yy, reduction="none"))
            margins.append(decision_margin(logits, yy))
            preds.append(logits.argmax(1))
    return pd.DataFrame(
        {
            "eps1": g1,
            "eps2": g2,
            "loss": torch.cat(losses).cpu().numpy(),
            "margin": torch.cat(margins).cpu().numpy(),
            "pred": torch.cat(preds).cpu().numpy(),
        }
    )


__all__ = ["SURFACE_GRID", "SURFACE_RADIUS", "loss_surface", "surface_directions"]
