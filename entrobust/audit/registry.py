"""The audit's checks as records, registered where each check is defined.

A :class:`Check` carries its key, the function that runs it on an :class:`AuditContext`, a
one-line description (what makes it fail) and its place in the report; :data:`CHECKS` holds
them all and :func:`checks_in_order` lists them in report order: the (f) model checks, then the
(a)–(e) and (g) attack checks.

Example:
    >>> import entrobust.audit  # registers every check
    >>> [c.key for c in checks_in_order()][:3]
    ['randomized-output', 'probability-output', 'zero-gradients']
    >>> CHECKS["large-eps"].description
    'accuracy stays above random guessing at ε = 128/255 and 255/255'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from entrobust.audit.probe import AuditSettings, Probe
from entrobust.audit.result import CheckResult
from entrobust.registry import Registry


@dataclass(frozen=True)
class AuditContext:
    """Everything a check may read: the model, its test points (floats in [0, 1]), the settings,
    the shared :class:`~entrobust.audit.probe.Probe`, the transfer proxy (or ``None``) and C."""

    model: nn.Module
    x: Tensor
    y: Tensor
    settings: AuditSettings
    probe: Probe
    proxy: nn.Module | None
    num_classes: int


@dataclass(frozen=True)
class Check:
    """One audit check.

    Attributes:
        key: its name in reports and on the command line (``--checks``).
        run: ``run(context) -> CheckResult``.
        description: when it fails, in one line.
        order: its place in the report (smaller first).
    """

    key: str
    run: Callable[[AuditContext], CheckResult] = field(repr=False)
    description: str
    order: int


#: Every audit check, registered by the module that defines it.
CHECKS: Registry[Check] = Registry("audit check")


def register_check(check: Check) -> Check:
    """Add ``check`` to :data:`CHECKS` under its key and return it."""
    return CHECKS.register(check.key, check)


def checks_in_order() -> list[Check]:
    """Every registered check, in report order."""
    return sorted(CHECKS.values(), key=lambda c: c.order)


__all__ = ["CHECKS", "AuditContext", "Check", "checks_in_order", "register_check"]
