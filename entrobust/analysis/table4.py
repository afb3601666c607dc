"""Table 4 and Fig. 4: margins, Jacobian norms, non-linearity and minimal L2 distortion.

Per example (:func:`jacobian_analysis`): the margin ``M``, the spectral norm ``‖J‖`` of the
logit Jacobian, the normalized margin ``M/‖J‖``, whether the point survives the L2 attack
(default ``l2pgd20-0.5``, the table's "PGD20-0.5"), the non-linearity ``Q_f(X_adv, X)`` at that
attack's output (Eqn. 13), and the minimal L2 distortion that flips the prediction (the paper's
"infinite L2 attack", :mod:`entrobust.attacks.min_l2`).

The summary (:func:`table4_summary`) has the rows of ``paper/tables/table4.csv`` and one column
per model. The paper does not say how per-example values are aggregated; we use the **mean**
over all evaluated examples (misclassified ones included: their margin is negative), the mean of
the per-example ratios for ``M/‖J‖`` (the paper's printed row is not the ratio of its printed
means, see ``discrepancies.md`` §6), the mean over examples where ``Q_f`` is defined, and the
Pearson correlation over the examples classified correctly whose minimal distortion was found
(misclassified points have distortion 0 by definition and would inflate the correlation).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy.stats import pearsonr
from torch import Tensor, nn

from entrobust.analysis.jacobian import decision_margin, jacobian_spectral_norm, nonlinearity
from entrobust.attacks.base import Attack
from entrobust.modes import eval_mode
from entrobust.seeding import seeded
from entrobust.tensors import as_float_images, model_device

#: The rows of ``paper/tables/table4.csv``, in order.
TABLE4_ROWS = (
    "margin_M_fX",
    "jacobian_spectral_norm_l2",
    "normalized_margin_M_over_J",
    "accuracy_pgd20_0.5_l2_fraction",
    "nonlinearity_Q_f_adv",
    "pearson_corr_normalized_margin_vs_l2_distortion",
)


def jacobian_analysis(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    attack: Attack | None = None,
    min_l2: Attack | None = None,
    power_iters: int = 100,
    batch_size: int = 256,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per example: margin, ‖J‖₂, M/‖J‖, robustness, Q_f and minimal L2 distortion.

    Args:
        model: maps [0, 1] images to logits.
        x: images (uint8 or [0, 1] floats), ``y`` their labels.
        attack: the bounded L2 attack (default ``get_attack("l2pgd20-0.5")``); its output is
            also the ``X_adv`` of ``Q_f``.
        min_l2: the unbounded attack (default :class:`~entrobust.attacks.min_l2.MinimalL2`).
        power_iters: maximum power iterations for ``‖J‖₂``.
        batch_size: examples per batch.
        seed: seed of the attacks' random starts and of the power iteration.

    Returns:
        Columns ``index, label, pred, correct, margin, spectral_norm, normalized_margin,
        robust, q_f, l2_distortion`` (``inf`` distortion: no adversarial found).
    """
    from entrobust.attacks import get_attack
    from entrobust.attacks.min_l2 import MinimalL2, minimal_l2_distortion

    attack = attack or get_attack("l2pgd20-0.5")
    min_l2 = min_l2 or MinimalL2(seed=seed)
    device = model_device(model)
    parts = []
    with seeded(seed, device):
        for start in range(0, len(x), batch_size):
            xb = as_float_images(x[start : start + batch_size].to(device))
            yb = y[start : start + batch_size].to(device)
            with eval_mode(model), torch.no_grad():
                logits = model(xb)
            margin = decision_margin(logits, yb)
            sigma = jacobian_spectral_norm(model, xb, iters=power_iters, seed=seed)
            x_adv = attack(model, xb, yb)
            with eval_mode(model), torch.no_grad():
                adv_ok = model(x_adv).argmax(1) == yb
            correct = logits.argmax(1) == yb
            parts.append(
                pd.DataFrame(
                    {
                        "index": np.arange(start, start + len(xb)),
                        "label": yb.cpu().numpy(),
                        "pred": logits.argmax(1).cpu().numpy(),
                        "correct": correct.cpu().numpy(),
                        "margin": margin.cpu().numpy(),
                        "spectral_norm": sigma.cpu().numpy(),
                        "normalized_margin": torch.where(
                            sigma > 0, margin / sigma.clamp_min(1e-30), torch.nan
                        )
                        .cpu()
                        .numpy(),
                        "robust": (correct & adv_ok).cpu().numpy(),
                        "q_f": nonlinearity(model, xb, x_adv).cpu().numpy(),
                        "l2_distortion": minimal_l2_distortion(model, xb, yb, min_l2).cpu().numpy(),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def distortion_correlation(frame: pd.DataFrame) -> tuple[float, int]:
    """Pearson r of normalized margin vs minimal L2 distortion, and how many points it uses.

    Uses the correctly classified points with a finite distortion and a defined margin; NaN
    when fewer than 3 such points (or a constant column) remain.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"correct": [True] * 4, "normalized_margin": [1.0, 2.0, 3.0, 4.0],
        ...                   "l2_distortion": [0.1, 0.2, 0.3, 0.4]})
        >>> r, n = distortion_correlation(f)
        >>> round(r, 6), n
        (1.0, 4)
    """
    ok = (
        frame["correct"].astype(bool)
        & np.isfinite(frame["l2_distortion"])
        & np.isfinite(frame["normalized_margin"])
    )
    a, b = frame.loc[ok, "normalized_margin"], frame.loc[ok, "l2_distortion"]
    if ok.sum() < 3 or a.nunique() < 2 or b.nunique() < 2:
        return math.nan, int(ok.sum())
    return float(pearsonr(a, b)[0]), int(ok.sum())


def table4_summary(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 4's layout: metric rows × one column per model (mean aggregation, see module doc).

    Two extra rows give the number of examples and of points behind the correlation.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"correct": [True, True, True], "margin": [2.0, 4.0, 6.0],
        ...     "spectral_norm": [1.0, 2.0, 2.0], "normalized_margin": [2.0, 2.0, 3.0],
        ...     "robust": [True, False, True], "q_f": [0.5, float("nan"), 1.5],
        ...     "l2_distortion": [0.1, 0.2, 0.4]})
        >>> table4_summary({"pat": f}).loc[["margin_M_fX", "nonlinearity_Q_f_adv"], "pat"].tolist()
        [4.0, 1.0]
    """
    columns = {}
    for name, f in frames.items():
        r, n_corr = distortion_correlation(f)
        columns[name] = [
            f["margin"].mean(),
            f["spectral_norm"].mean(),
            f["normalized_margin"].mean(),
            f["robust"].astype(float).mean(),
            f["q_f"].mean(),  # pandas skips NaN (undefined Q_f)
            r,
            float(len(f)),
            float(n_corr),
        ]
    index = pd.Index([*TABLE4_ROWS, "n_examples", "n_correlation"], name="metric")
    return pd.DataFrame(columns, index=index)


__all__ = ["TABLE4_ROWS", "distortion_correlation", "jacobian_analysis", "table4_summary"]
