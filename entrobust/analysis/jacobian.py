"""Decision margin, spectral norm of the logit Jacobian, and the non-linearity Q_f (paper §6).

All three are per example and work on the model's *logits* ``f(X)`` (the paper's ``f``; its
``f_σ`` is the softmax). The Jacobian ``J = ∇_X f(X)`` (``C × d`` per example) is never
materialised: the spectral norm comes from power iteration on ``JᵀJ`` with one Jacobian-vector
product (``torch.func.jvp``) and one vector-Jacobian product (``torch.func.vjp``) per step,
batched over examples (the model must treat examples independently, as any model in eval mode
does).

* Margin (§6): ``M_{f,X} = f(X)_y − max_{i≠y} f(X)_i``; negative when misclassified.
* Spectral norm (Eqn. 11-12): ``‖∇_X f(X)‖₂ = σ_max(J)``.
* Non-linearity (Eqn. 13)::

      Q_f(X', X) = ‖f(X') − f(X) − ∇_X f(X)ᵀ(X' − X)‖₂ / ‖∇_X f(X)ᵀ(X' − X)‖₂

  where ``∇_X f(X)ᵀ(X' − X) = J·(X' − X)`` is the first-order (linear) change of the logits.
  It is undefined (returned as NaN) when that linear change is exactly zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from entrobust.modes import eval_mode, frozen_parameters


def decision_margin(logits: Tensor, y: Tensor) -> Tensor:
    """``M = f_y − max_{i≠y} f_i`` per row of ``logits`` (paper §6).

    Example:
        >>> import torch
        >>> decision_margin(torch.tensor([[3.0, 1.0, 2.5], [0.0, 4.0, 1.0]]), torch.tensor([0, 0]))
        tensor([ 0.5000, -4.0000])
    """
    true = logits.gather(1, y.view(-1, 1)).squeeze(1)
    others = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), -torch.inf)
    return true - others.amax(dim=1)


def _flat_norm(t: Tensor) -> Tensor:
    return t.flatten(1).norm(dim=1)


def _unit(t: Tensor) -> Tensor:
    return t / _flat_norm(t).clamp_min(1e-30).view(-1, *([1] * (t.dim() - 1)))


def jacobian_spectral_norm(
    model: nn.Module,
    x: Tensor,
    *,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> Tensor:
    """Per-example ``σ_max(∇_X f(X))`` by power iteration on ``JᵀJ`` (never forming ``J``).

    Each iteration costs one ``jvp`` (``J·v``) and one ``vjp`` (``Jᵀ·u``); it stops when every
    example's estimate ``‖J v‖`` changed by less than ``tol`` (relative) or after ``iters``.
    The estimate is a lower bound that converges to σ_max from below.

    Args:
        model: maps images in [0, 1] to logits; used in eval mode, left as it was.
        x: images ``(N, ...)``.
        iters: maximum power iterations.
        tol: relative change of every estimate below which iteration stops.
        seed: seed of the random start vector (the global RNG is not touched).

    Returns:
        ``(N,)`` spectral norms on ``x``'s device (0 where the Jacobian is zero).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> lin = nn.Linear(3, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
        >>> jacobian_spectral_norm(lin, torch.rand(2, 3)).round(decimals=4)
        tensor([4., 4.])
    """
    x = x.detach()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    v = _unit(torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype))
    sigma = torch.zeros(len(x), device=x.device, dtype=x.dtype)
    with eval_mode(model), frozen_parameters(model), torch.enable_grad():
        _, vjp_fn = torch.func.vjp(model, x)
        for _ in range(iters):
            _, u = torch.func.jvp(model, (x,), (v,))  # J v, (N, C)
            new = u.flatten(1).norm(dim=1)
            done = bool(((new - sigma).abs() <= tol * new.clamp_min(1e-30)).all())
            sigma = new
            if done:
                break
            (w,) = vjp_fn(u)  # Jᵀ J v
            v = _unit(w.detach())
    return sigma.detach()


def linearized_change(model: nn.Module, x: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """``(f(X), ∇_X f(X)ᵀ·delta)``: the logits and their first-order change (one ``jvp``).

    Example:
        >>> import torch
        >>> lin = torch.nn.Linear(2, 2)
        >>> fx, lin_change = linearized_change(lin, torch.zeros(1, 2), torch.ones(1, 2))
        >>> torch.allclose(lin_change, lin.weight.sum(1, keepdim=True).T)
        True
    """
    with eval_mode(model), frozen_parameters(model), torch.enable_grad():
        fx, lin = torch.func.jvp(model, (x.detach(),), (delta.detach(),))
    return fx.detach(), lin.detach()


def nonlinearity(model: nn.Module, x: Tensor, x_adv: Tensor) -> Tensor:
    """Per-example ``Q_f(X', X)`` of the paper's Eqn. 13 with ``X' = x_adv`` (NaN if undefined).

    ``‖f(X') − f(X) − J(X' − X)‖₂ / ‖J(X' − X)‖₂`` on logits: 0 for a model that is linear
    (affine) along ``X' − X``, large where the first-order approximation (Eqn. 10) fails.

    Example:
        >>> import torch
        >>> x, x_adv = torch.zeros(2, 3), torch.ones(2, 3)
        >>> nonlinearity(torch.nn.Linear(3, 4), x, x_adv).abs().max() < 1e-6  # affine
        tensor(True)
        >>> nonlinearity(lambda t: t ** 2, torch.ones(1, 1), torch.full((1, 1), 2.0))
        tensor([0.5000])
    """
    if not isinstance(model, nn.Module):
        model = _FunctionModule(model)
    fx, lin = linearized_change(model, x, x_adv - x)
    with eval_mode(model), torch.no_grad():
        f_adv = model(x_adv)
    num = (f_adv - fx - lin).flatten(1).norm(dim=1)
    den = lin.flatten(1).norm(dim=1)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.full_like(num, torch.nan))


class _FunctionModule(nn.Module):
    """Wrap a plain function as a parameterless module (for examples and tests)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


__all__ = ["decision_margin", "jacobian_spectral_norm", "linearized_change", "nonlinearity"]
