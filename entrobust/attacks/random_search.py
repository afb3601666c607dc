"""Random search (the paper's Appendix C.1, Table 10): a gradient-free sanity check.

Per image, ``n_samples`` random sign perturbations ``x + ε·s``, ``s ∈ {−1, +1}^d`` (the corners
of the L∞ ball, clipped to [0, 1]); the image is broken if any is misclassified. The paper does
not state the noise; corners are the strongest cheap choice and match "random search at ε".
If random search breaks points that PGD could not, PGD's gradients are masked; that count
(Table 10) is :func:`entrobust.evaluation.random_search_report`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from entrobust.attacks.base import Attack
from entrobust.attacks.threat import check_linf_eps
from entrobust.attacks.validate import MAX_SAMPLES, check_strength
from entrobust.errors import InvalidValueError


class RandomSearch(Attack):
    """Random corners of the L∞ ball; returns the first misclassified one per image.

    Args:
        eps: L∞ radius.
        n_samples: tries per image (paper: 10,000).
        chunk: tries evaluated per image per forward pass (memory ∝ batch × chunk).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> rs = RandomSearch(8/255, n_samples=50, chunk=25)
        >>> rs(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.rand(3, 4), torch.tensor([0, 1, 2])).shape
        torch.Size([3, 4])
    """

    norm = "linf"

    def __init__(self, eps: float, n_samples: int = 10_000, chunk: int = 100) -> None:
        self.eps = check_linf_eps(eps)
        check_strength(f"random-search{n_samples}-eps{eps:.4g}", self.eps)
        if not 1 <= n_samples <= MAX_SAMPLES or chunk < 1:
            raise InvalidValueError(
                f"random search needs 1..{MAX_SAMPLES} samples and chunk ≥ 1, got "
                f"{n_samples} and {chunk}"
            )
        self.n_samples, self.chunk = int(n_samples), int(chunk)
        self.name = f"random-search{n_samples}-eps{eps:.4g}"

    @torch.no_grad()
    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        result = x.clone()
        active = (model(x).argmax(1) == y).nonzero().squeeze(1)  # already wrong: nothing to do
        done = 0
        while done < self.n_samples and active.numel() > 0:
            m = min(self.chunk, self.n_samples - done)
            xa = x[active].unsqueeze(1)  # (A, 1, ...)
            signs = torch.randint(0, 2, (len(active), m, *x.shape[1:]), device=x.device)
            cand = (xa + self.eps * (2 * signs - 1).to(x.dtype)).clamp_(0, 1)
            wrong = model(cand.flatten(0, 1)).argmax(1).view(len(active), m) != y[active, None]
            hit = wrong.any(dim=1)
            first = wrong.float().argmax(dim=1)
            result[active[hit]] = cand[hit, first[hit]]
            active = active[~hit]
            done += m
        return result
