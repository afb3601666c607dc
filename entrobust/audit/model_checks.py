"""(f) Model checks after AutoAttack's ``checks.py``: randomness, probability outputs, zero
gradients. They look at the model alone, before any attack, in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from entrobust.audit.registry import Check, register_check
from entrobust.audit.result import CheckResult
from entrobust.audit.thresholds import (
    MODEL_CHECK_EXAMPLES,
    PROBABILITY_TOLERANCE,
    RANDOMIZED_PASSES,
    RANDOMIZED_TOLERANCE,
    ZERO_GRADIENT_MAX_FRACTION,
)
from entrobust.modes import eval_mode, frozen_parameters
from entrobust.tensors import model_device


@torch.no_grad()
def _outputs(model: nn.Module, x: Tensor) -> Tensor:
    with eval_mode(model):
        return model(x[:MODEL_CHECK_EXAMPLES].to(model_device(model))).float().cpu()


def check_randomized_output(model: nn.Module, x: Tensor) -> CheckResult:
    """Fail when repeated forward passes of the same input differ (a randomized defense).

    Example:
        >>> import torch
        >>> check_randomized_output(torch.nn.Linear(4, 3), torch.rand(5, 4)).verdict
        'pass'
    """
    outs = [_outputs(model, x) for _ in range(RANDOMIZED_PASSES)]
    normed = [o / o.norm(dim=1, keepdim=True).clamp_min(1e-10) for o in outs]
    diff = max((a - b).norm(dim=1).max().item() for a in normed for b in normed)
    flips = max((a.argmax(1) != b.argmax(1)).sum().item() for a in outs for b in outs)
    bad = diff > RANDOMIZED_TOLERANCE or flips > 0
    return CheckResult(
        "randomized-output",
        "(f) the model is deterministic: two forward passes of the same input agree",
        "fail" if bad else "pass",
        f"max L2 distance of normalised outputs over {RANDOMIZED_PASSES} passes = {diff:.3g}, "
        f"{flips} prediction(s) changed"
        + ("; randomized defense: evaluate with EOT / AutoAttack 'rand'" if bad else ""),
        {"max_normalised_output_distance": diff, "prediction_changes": flips},
        f"fail if distance > {RANDOMIZED_TOLERANCE:g} or any prediction changes",
    )


register_check(
    Check(
        "randomized-output",
        lambda c: check_randomized_output(c.model, c.x),
        "two forward passes of the same input differ",
        order=0,
    )
)


def check_probability_output(model: nn.Module, x: Tensor) -> CheckResult:
    """Fail when outputs look like probabilities (a softmax inside the model).

    Attacks on CE then apply a second softmax to probabilities, whose gradients vanish as the
    inner softmax saturates. Log-probability outputs (rows with ``logsumexp = 0``, e.g. an
    averaged-probability ensemble) are valid logits for CE and are only noted.

    Example:
        >>> import torch
        >>> check_probability_output(torch.nn.Softmax(dim=1), torch.rand(5, 4)).verdict
        'fail'
        >>> ok = check_probability_output(torch.nn.Identity(), torch.tensor([[-3.0, 2.0]]))
        >>> ok.verdict, ok.message
        ('pass', 'logits, not probabilities (outputs in [-3, 2])')
    """
    out = _outputs(model, x)
    tol = PROBABILITY_TOLERANCE
    rows_sum = (out.sum(dim=1) - 1).abs().max().item()
    looks = bool(out.min() > -tol and out.max() < 1 + tol and rows_sum < tol)
    log_probs = bool((torch.logsumexp(out, dim=1).abs() < 1e-4).all())
    note = "; rows are log-probabilities (logsumexp = 0): fine for CE" if log_probs else ""
    return CheckResult(
        "probability-output",
        "(f) the model returns logits, not probabilities",
        "fail" if looks else "pass",
        (
            f"outputs in [{out.min().item():.3g}, {out.max().item():.3g}] with every row "
            f"summing to 1 (± {rows_sum:.2g}): the outputs are probabilities; remove the "
            "softmax before attacking"
        )
        if looks
        else f"logits, not probabilities (outputs in [{out.min().item():.3g}, "
        f"{out.max().item():.3g}]){note}",
        {
            "min": out.min().item(),
            "max": out.max().item(),
            "max_row_sum_error": rows_sum,
            "log_probabilities": log_probs,
        },
        f"fail if all outputs lie in [0, 1] and every row sums to 1 (± {tol:g})",
    )


register_check(
    Check(
        "probability-output",
        lambda c: check_probability_output(c.model, c.x),
        "the outputs are probabilities (softmax inside the model)",
        order=1,
    )
)


def input_gradients(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 256) -> Tensor:
    """Per-example input gradient of the CE loss (eval mode, parameters untouched).

    Example:
        >>> import torch
        >>> input_gradients(torch.nn.Linear(4, 3), torch.rand(2, 4), torch.tensor([0, 1])).shape
        torch.Size([2, 4])
    """
    device = model_device(model)
    grads = []
    with eval_mode(model), frozen_parameters(model), torch.enable_grad():
        for s in range(0, len(x), batch_size):
            xb = x[s : s + batch_size].to(device).detach().requires_grad_(True)
            loss = F.cross_entropy(model(xb), y[s : s + batch_size].to(device), reduction="sum")
            (g,) = torch.autograd.grad(loss, xb, allow_unused=True)
            grads.append(torch.zeros_like(xb) if g is None else g.detach())
    return torch.cat(grads).cpu() if grads else x.new_zeros(x.shape)


def check_zero_gradients(
    model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 256
) -> CheckResult:
    """Fail when too many examples have an all-zero input gradient (shattered gradients).

    Example:
        >>> import torch
        >>> net, x, y = torch.nn.Linear(4, 3), torch.rand(5, 4), torch.zeros(5, dtype=torch.long)
        >>> check_zero_gradients(net, x, y).verdict
        'pass'
        >>> class Round(torch.nn.Module):  # quantization: zero gradient almost everywhere
        ...     def forward(self, t):
        ...         return torch.round(t * 4) / 4
        >>> check_zero_gradients(torch.nn.Sequential(Round(), net), x, y).verdict
        'fail'
    """
    g = input_gradients(model, x, y, batch_size)
    zero = (g.flatten(1).abs().sum(dim=1) == 0) if len(g) else torch.zeros(0, dtype=torch.bool)
    count = int(zero.sum())
    frac = count / max(len(g), 1)
    bad = frac > ZERO_GRADIENT_MAX_FRACTION
    return CheckResult(
        "zero-gradients",
        "(f) the CE loss has a non-zero input gradient at (almost) every example",
        "fail" if bad else "pass",
        f"{count} of {len(g)} examples ({100 * frac:.1f}%) have an all-zero input gradient"
        + ("; gradient attacks cannot move there (shattered gradients)" if bad else ""),
        {"zero_gradient_examples": count, "n": len(g), "fraction": frac},
        f"fail if more than {100 * ZERO_GRADIENT_MAX_FRACTION:g}% of examples have zero gradient",
    )


register_check(
    Check(
        "zero-gradients",
        lambda c: check_zero_gradients(c.model, c.x, c.y, c.settings.batch_size),
        "too many examples have an all-zero input gradient",
        order=2,
    )
)


__all__ = [
    "check_probability_output",
    "check_randomized_output",
    "check_zero_gradients",
    "input_gradients",
]
