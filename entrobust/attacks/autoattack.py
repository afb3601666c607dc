"""AutoAttack (Croce & Hein, ICML 2020) through ``pyautoattack``, and torchattacks' cheaper copy.

Paper: "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
attacks", https://arxiv.org/abs/2003.01690; reference code https://github.com/fra31/auto-attack,
packaged on PyPI as ``pyautoattack`` (import ``pyautoattack``).

:class:`AutoAttack` is *the* AutoAttack, the number RobustBench reports. ``pyautoattack`` 0.2.0's
``version="standard"`` (L∞ and L2) runs, each only on the points still classified correctly:

1. APGD-CE: 100 iterations from one random start in the ball, ρ = 0.75;
2. APGD-T: targeted APGD on the DLR loss, 100 iterations, 9 target classes, one run each;
3. FAB-T: targeted FAB, 100 iterations, 9 target classes, one run each;
4. Square: black-box, 5000 queries, p_init = 0.8, 1 restart.

``version="rand"`` (for randomized defenses) runs APGD-CE and APGD-DLR with 20-sample EOT.
With fewer than 10 classes the number of target classes is reduced to C − 1.

:class:`TorchattacksAutoAttack` is torchattacks 3.5.1's ``AutoAttack``: the same four attacks but
its APGD, APGD-T and FAB run their class default of **10 iterations** (not 100), so it is
cheaper and weaker. Its numbers are **not comparable** to :class:`AutoAttack`'s; it is named
``ta-autoattack-{k}`` so that it cannot be mistaken for it.

Both run the model in eval mode, leave its mode, parameters' ``.grad`` and the global RNG
state as they were, and print nothing. pyautoattack's sanity checks (randomized or dynamic
defense, probabilities instead of logits, Square beating the gradient attacks) report through
its ``auto-attack`` logger; they are re-raised here as :class:`AutoAttackWarning` warnings.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from tqdm import tqdm

from entrobust.attacks.base import Attack
from entrobust.attacks.threat import check_radius
from entrobust.errors import InvalidValueError
from entrobust.progress import progress_bar
from entrobust.seeding import private_rng, seeded

VERSIONS = ("standard", "rand")
#: The attacks each version runs (for the progress bar).
_STANDARD = {"standard": ("apgd-ce", "apgd-t", "fab-t", "square"), "rand": ("apgd-ce", "apgd-dlr")}
#: The attacks ``pyautoattack`` can run, usable in ``AutoAttack(..., attacks=[...])``.
AA_ATTACKS = ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t")
_LIB_NORM = {"linf": "Linf", "l2": "L2"}


class AutoAttackWarning(UserWarning):
    """A sanity check of AutoAttack failed (e.g. the defense looks randomized)."""


def _eps_label(eps: float, norm: str) -> str:
    return f"{round(eps * 255)}" if norm == "linf" else f"l2-{eps:g}"


class _Progress(logging.Handler):
    """Turns pyautoattack's debug log into a progress bar: one step per attack of the
    ensemble, the robust accuracy so far in the postfix; nothing is printed."""

    def __init__(self, bar: tqdm) -> None:
        super().__init__(level=logging.DEBUG)
        self.bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        m = re.search(r"robust accuracy after (\S+): ([\d.]+%)", record.getMessage())
        if m:
            self.bar.update(1)
            self.bar.set_postfix_str(f"after {m[1]}: {m[2]}")


@contextlib.contextmanager
def _progress_from_logger(name: str, bar: tqdm) -> Iterator[None]:
    """Feed the library logger's debug records to ``bar`` while inside."""
    logger = logging.getLogger(name)
    handler, level = _Progress(bar), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def _quiet_library(device: torch.device, seed: int | None) -> Iterator[None]:
    """No stdout, global RNG state restored afterwards (the libraries reseed torch themselves),
    seeded inside if ``seed`` is given."""
    with (
        private_rng(device),
        seeded(seed, device),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        yield


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _warnings_from_logger(name: str) -> Iterator[None]:
    """Route the library logger's warnings to :mod:`warnings` instead of stderr."""
    logger = logging.getLogger(name)
    handler = _Collect()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        for message in dict.fromkeys(handler.messages):  # once each, in order
            warnings.warn(f"AutoAttack: {message}", AutoAttackWarning, stacklevel=4)


def _n_classes(model: nn.Module, x: Tensor) -> int:
    with torch.no_grad():
        return int(model(x[:1]).shape[1])


class AutoAttack(Attack):
    """AutoAttack, standard or rand version, from ``pyautoattack`` (Croce & Hein, 2020).

    Standard = APGD-CE, APGD-T, FAB-T, Square with 100-iteration APGD (see the module
    docstring for every setting); each attack runs only on points still robust.

    Args:
        eps: radius (L∞: fraction of [0, 1], e.g. 8/255; L2: Euclidean).
        norm: ``"linf"`` or ``"l2"``.
        version: ``"standard"`` or ``"rand"`` (randomized defenses: APGD-CE/DLR with EOT).
        seed: seed of every random choice (the library reseeds torch with it; the caller's
            RNG state is restored afterwards). ``None`` would let pyautoattack use the time.
        batch_size: batch size inside pyautoattack.
        attacks: run only these of :data:`AA_ATTACKS`, with the standard version's settings
            (pyautoattack's ``version="custom"``), e.g. ``["apgd-ce", "apgd-t"]``.
        name: display name; default ``autoattack-{k}`` (L∞ ε = k/255), ``autoattack-rand-{k}``,
            ``autoattack-l2-{eps}``, or ``autoattack-apgd-ce+apgd-t-{k}`` for a subset.
        progress: a bar advancing with each attack of the ensemble (``None``: a transient bar
            on a terminal only; ``True``: also log lines when stderr is not a terminal;
            ``False``: never; see :func:`entrobust.progress.progress_bar`). Not part of the
            attack's configuration.

    Shape:
        ``x``: ``(N, C, H, W)`` in [0, 1]; ``y``: ``(N,)``; result like ``x``. The model must
        return logits.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4))
        >>> atk = AutoAttack(8/255, attacks=["apgd-ce"])
        >>> atk.name, AutoAttack(8/255).name, AutoAttack(8/255, version="rand").name
        ('autoattack-apgd-ce-8', 'autoattack-8', 'autoattack-rand-8')
        >>> atk(model, torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 2])).shape
        torch.Size([3, 1, 2, 2])
    """

    def __init__(
        self,
        eps: float,
        *,
        norm: str = "linf",
        version: str = "standard",
        seed: int | None = 0,
        batch_size: int = 250,
        attacks: Sequence[str] | None = None,
        name: str | None = None,
        progress: bool | None = None,
    ) -> None:
        self.eps = check_radius(eps, norm)
        self.norm = norm
        self._progress = progress
        if version not in VERSIONS:
            raise InvalidValueError(
                f"unknown AutoAttack version {version!r}; valid: {', '.join(VERSIONS)}"
            )
        if attacks is not None:
            attacks = list(attacks)
            unknown = [a for a in attacks if a not in AA_ATTACKS]
            if unknown or not attacks:
                raise InvalidValueError(
                    f"unknown AutoAttack attacks {unknown}; valid: {', '.join(AA_ATTACKS)}"
                )
        if batch_size < 1:
            raise InvalidValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.version, self.seed, self.batch_size, self.attacks = version, seed, batch_size, attacks
        if name is None:
            if attacks is not None:
                tag = "+".join(attacks) + "-"
            else:
                tag = "" if version == "standard" else f"{version}-"
            name = f"autoattack-{tag}{_eps_label(self.eps, norm)}"
        self.name = name

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        from pyautoattack import AutoAttack as _AutoAttack

        if len(x) == 0:
            return x.clone()
        x = x.contiguous()  # pyautoattack views its inputs (a permuted NHWC array would fail)
        n_classes = _n_classes(model, x)
        bar = progress_bar(  # None: a transient bar on a terminal, silent in a log
            total=len(self.attacks or _STANDARD[self.version]),
            desc=self.name,
            unit="attack",
            leave=bool(self._progress),
            disable=self._progress is False,
        )
        with (
            bar,
            _quiet_library(x.device, self.seed),
            _progress_from_logger("auto-attack", bar),
            _warnings_from_logger("auto-attack"),
        ):
            aa = _AutoAttack(
                model,
                eps=self.eps,
                norm=_LIB_NORM[self.norm],
                version=self.version,
                device=x.device,
                seed=self.seed,
            )
            aa.verbose = True  # logs the progress that _Progress shows
            targets = max(1, min(9, n_classes - 1))
            aa.apgd_targeted.n_target_classes = targets
            aa.fab.n_target_classes = targets
            if self.attacks is not None:  # the standard settings, a subset of the attacks
                aa.attacks_to_run = list(self.attacks)
                aa.version = "custom"
            x_adv, _ = aa.run_standard_evaluation(x, y, batch_size=self.batch_size)
        return x_adv


class TorchattacksAutoAttack(Attack):
    """torchattacks' ``AutoAttack``: a cheaper variant, NOT comparable to :class:`AutoAttack`.

    torchattacks 3.5.1 builds the standard version from ``APGD``, ``APGDT``, ``FAB`` and
    ``Square`` with their class defaults: **10 iterations** for APGD-CE, APGD-T and FAB-T (the
    reference AutoAttack uses 100), Square with 5000 queries, 1 restart each, chained so that
    each attack sees only points still robust. Expect higher (optimistic) robust accuracy than
    :class:`AutoAttack`; report it under its own name, ``ta-autoattack-{k}``.

    Args:
        eps: radius (L∞: fraction of [0, 1]; L2: Euclidean).
        norm: ``"linf"`` or ``"l2"``.
        version: ``"standard"``, ``"plus"`` or ``"rand"`` (torchattacks' versions).
        seed: seed for the random starts (torchattacks' default ``None`` uses the time).
        name: display name; default ``ta-autoattack-{k}`` (``ta-autoattack-{version}-{k}``).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> atk = TorchattacksAutoAttack(8/255)
        >>> atk.name
        'ta-autoattack-8'
    """

    def __init__(
        self,
        eps: float,
        *,
        norm: str = "linf",
        version: str = "standard",
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        self.eps = check_radius(eps, norm)
        self.norm = norm
        if version not in ("standard", "plus", "rand"):
            raise InvalidValueError(
                f"unknown torchattacks AutoAttack version {version!r}; valid: standard, plus, rand"
            )
        self.version, self.seed = version, int(seed)
        tag = "" if version == "standard" else f"{version}-"
        self.name = name or f"ta-autoattack-{tag}{_eps_label(self.eps, norm)}"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        import torchattacks

        if len(x) == 0:
            return x.clone()
        n_classes = _n_classes(model, x)
        with _quiet_library(x.device, self.seed):
            atk = torchattacks.AutoAttack(  # bound to this model: built per call
                model,
                norm=_LIB_NORM[self.norm],
                eps=self.eps,
                version=self.version,
                n_classes=n_classes,
                seed=self.seed,
            )
            atk.set_device(x.device)
            return atk(x, y)


__all__ = ["AA_ATTACKS", "AutoAttack", "AutoAttackWarning", "TorchattacksAutoAttack"]
