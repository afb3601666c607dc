"""Run the whole gradient-masking audit on a model and its test points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from entrobust.audit import attack_checks, model_checks  # noqa: F401  (they register CHECKS)
from entrobust.audit.probe import AuditSettings, Probe
from entrobust.audit.registry import CHECKS, AuditContext, checks_in_order
from entrobust.audit.result import AuditReport
from entrobust.errors import UnknownNameError
from entrobust.modes import eval_mode
from entrobust.progress import progress_bar
from entrobust.tensors import as_float_images, model_device

#: The checks' keys in report order (the (f) model checks, then the (a)–(e) and (g) attack
#: checks), derived from :data:`~entrobust.audit.registry.CHECKS`.
CHECK_KEYS = tuple(c.key for c in checks_in_order())


def _num_classes(model: nn.Module, x: Tensor) -> int:
    with eval_mode(model), torch.no_grad():
        return int(model(x[:1].to(model_device(model))).shape[-1])


def run_audit(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    settings: AuditSettings,
    *,
    proxy: nn.Module | None = None,
    num_classes: int | None = None,
    checks: Sequence[str] | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = False,
) -> AuditReport:
    """The checks of :data:`CHECK_KEYS` (all, or those named) on ``model`` at ``(x, y)``.

    Args:
        model: the audited model (maps [0, 1] images to logits).
        x: test images (uint8 or [0, 1] floats); ``y`` their labels.
        settings: radius, restarts, random-search budget, seed.
        proxy: a separately trained model for the transfer check (a); skipped when None.
        num_classes: C for check (c) (default: the model's output width).
        checks: keys of the checks to run (default: all, in :data:`CHECK_KEYS` order).
        progress: show the checks done (see :func:`entrobust.progress.progress_bar`).
        meta: what was audited, copied into the report.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> x, y = torch.rand(6, 1, 2, 2), torch.zeros(6, dtype=torch.long)
        >>> report = run_audit(model, x, y, AuditSettings(eps=8 / 255, restarts=1, samples=10),
        ...                    checks=("zero-gradients", "white-vs-black-box", "fgsm-vs-pgd"))
        >>> [(c.key, c.verdict) for c in report.checks][:2], report.passed
        ([('zero-gradients', 'pass'), ('white-vs-black-box', 'skip')], True)
    """
    selected = CHECK_KEYS if checks is None else tuple(checks)
    unknown = [k for k in selected if k not in CHECK_KEYS]
    if unknown:
        raise UnknownNameError(
            f"unknown audit check(s) {', '.join(unknown)}; valid: {', '.join(CHECK_KEYS)}"
        )
    x = as_float_images(x)
    num_classes = num_classes or _num_classes(model, x)
    probe = Probe(model, x, y, settings)
    context = AuditContext(model, x, y, settings, probe, proxy, num_classes)
    keys = [k for k in CHECK_KEYS if k in selected]
    results = []
    with progress_bar(total=len(keys), desc="audit", unit="check", disable=not progress) as bar:
        for key in keys:
            bar.set_postfix_str(key)
            results.append(CHECKS.require(key).run(context))
            bar.update(1)
    info = {
        "n": len(x),
        "clean_accuracy": probe.clean_accuracy,
        "eps": f"{settings.eps * 255:.4g}/255",
        "settings": {
            "restarts": settings.restarts,
            "init_std": settings.init_std,
            "samples": settings.samples,
            "seed": settings.seed,
        },
        **(meta or {}),
    }
    return AuditReport(results, info)


__all__ = ["CHECK_KEYS", "run_audit"]
