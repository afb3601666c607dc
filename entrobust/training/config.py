"""The resolved configuration of a training run, and the hash that names its directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from entrobust.data import get_dataset_spec
from entrobust.defenses import (
    TRADES_BETA,
    Defense,
    DefenseParams,
    TrainingAdversary,
    trainer_of,
)
from entrobust.errors import InvalidValueError
from entrobust.models import list_models
from entrobust.training.profiles import resolve_schedule

#: Training arithmetic: fp32, or bf16 autocast (forward passes, including the inner attack).
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Override:
    """How a :class:`TrainConfig` field is set from the command line: the name of its value
    parser in :mod:`entrobust.cli.argtypes` (or fixed ``choices``) and its help text.

    The fields that carry one are the training overrides of ``train``, ``bench`` and
    ``reproduce`` (:data:`OVERRIDES`): the option list is derived from this class, not written
    again in the CLI.
    """

    parser: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()


def _cli(
    parser: str = "", help: str = "", choices: tuple[str, ...] = (), default: Any = MISSING
) -> Any:
    """A dataclass field overridable from the command line (no default unless given)."""
    return field(default=default, metadata={"override": Override(parser, help, choices)})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; equal configs give identical weights on CPU.

    Build one with :func:`make_config` (which fills the paper's per-dataset defaults). Fields
    made with ``_cli`` are the training overrides of the command line (:data:`OVERRIDES`);
    their metadata changes neither the config's dict nor its hash.
    """

    dataset: str
    defense: str
    arch: str = _cli("plain_name", "model architecture (see `entrobust list`)")
    seed: int
    profile: str
    epochs: int = _cli("steps_int", "training epochs")
    batch_size: int = _cli("positive_int", "training batch size")
    lr: float = _cli("positive_float", "initial SGD learning rate")
    momentum: float = _cli("momentum", "SGD momentum in [0, 1)")
    weight_decay: float = _cli("nonneg_float", "SGD weight decay")
    milestones: tuple[int, ...] = _cli("int_list", "LR decay epochs, e.g. 60,84,100")
    lr_decay: float = _cli("decay_factor", "LR decay factor in (0, 1]")
    lam: float = _cli("finite_float", "EntM λ")
    gamma: float | None = _cli("unit_float", "label-smoothing γ in [0, 1]")
    alpha: float = _cli("unit_float", "PAT clean-loss weight α in [0, 1]")
    beta: float = _cli("nonneg_float", "TRADES β (default 3) or MART β (default 6)")
    at_eps: float = _cli("eps_fraction", "training ε, a fraction: e.g. 8/255")
    at_step: float = _cli("fraction", "training PGD step, e.g. 2/255 (fast: 1.25·ε)")
    at_steps: int = _cli("steps_int", "training PGD steps")
    inner: str = _cli(
        help="loss the inner max of PAT/MART/fast ascends: objective (Eqn. 5, default) or ce",
        choices=("ce", "objective"),
    )
    adp_members: int = _cli("ensemble_size", "ADP ensemble members")
    adp_alpha: float = _cli("nonneg_float", "ADP α (ensemble entropy weight)")
    adp_beta: float = _cli("nonneg_float", "ADP β (log-det weight)")
    train_size: int | None = _cli("positive_int", "stratified training subset")
    test_size: int | None = _cli("positive_int", "stratified test subset")
    data_seed: int = _cli("seed", "seed of the subsets")
    augment: bool
    precision: str = _cli(help="bf16 autocast for training", choices=PRECISIONS, default="fp32")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InvalidValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**{**d, "milestones": tuple(d["milestones"])})

    @property
    def hash(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON: the run's identity."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def run_name(self) -> str:
        """Directory name of the run: readable prefix + config hash."""
        return f"{self.dataset}-{self.arch}-{self.defense}-s{self.seed}-{self.hash}"

    def defense_obj(self) -> Defense:
        """The :class:`~entrobust.defenses.Defense` this config trains."""
        adversary = TrainingAdversary(self.at_eps, self.at_step, self.at_steps)
        return Defense(
            self.defense,
            DefenseParams(
                lam=self.lam,
                gamma=self.gamma,
                alpha=self.alpha,
                beta=self.beta,
                adversary=adversary,
                inner=self.inner,
                adp_alpha=self.adp_alpha,
                adp_beta=self.adp_beta,
            ),
        )


#: The fields settable from the command line, in declaration order.
OVERRIDES: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig) if "override" in f.metadata)


def make_config(
    dataset: str,
    defense: str,
    *,
    profile: str = "quick",
    seed: int = 0,
    data_dir: str | None = None,
    **overrides: Any,
) -> TrainConfig:
    """Resolve a config: the dataset's paper defaults, then the profile, then ``overrides``.

    Example:
        >>> cfg = make_config("digits", "pat-entm", profile="ci", seed=1)
        >>> cfg.arch, cfg.lam, cfg.alpha, cfg.seed
        ('tiny', 2.0, 0.5, 1)
        >>> make_config("digits", "mart", profile="ci").beta, make_config("digits", "trades").beta
        (6.0, 3.0)
        >>> fast = make_config("digits", "fast", profile="ci", at_eps=8/255)
        >>> round(fast.at_step * 255, 6), fast.at_steps
        (10.0, 1)
        >>> make_config("digits", "pat", profile="ci", at_eps=8)
        Traceback (most recent call last):
        ...
        entrobust.errors.InvalidValueError: training ε = 8 is outside [0, 1]; images are in \
[0, 1], so give it as a fraction of the pixel range, e.g. 8/255 = 0.03137
    """
    spec = get_dataset_spec(dataset, data_dir)
    trainer = trainer_of(defense)
    arch = overrides.pop("arch", None) or spec.default_arch
    if arch not in list_models():
        raise InvalidValueError(f"unknown arch '{arch}'; valid: {', '.join(list_models())}")
    schedule = resolve_schedule(profile, dataset, arch, adversarial=trainer.adversarial)
    base = TrainConfig(
        dataset=dataset,
        defense=defense,
        arch=arch,
        seed=seed,
        profile=profile,
        epochs=schedule.epochs,
        batch_size=schedule.batch_size,
        lr=schedule.lr,
        momentum=schedule.momentum,
        weight_decay=schedule.weight_decay,
        milestones=schedule.milestones,
        lr_decay=schedule.lr_decay,
        lam=spec.entm_lam,
        gamma=spec.ls_gamma,
        alpha=0.5,
        # the trainer's own β; TRADES' for trainers that read none (kept: it is in the hash)
        beta=TRADES_BETA if trainer.beta is None else trainer.beta,
        at_eps=spec.at_eps,
        at_step=spec.at_step,
        at_steps=spec.at_steps,
        inner="objective",
        adp_members=3,
        adp_alpha=2.0,
        adp_beta=0.5,
        train_size=schedule.train_size,
        test_size=schedule.test_size,
        data_seed=0,
        augment=spec.augment != "none",
    )
    unknown = set(overrides) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise InvalidValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    config = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if "milestones" in overrides and overrides["milestones"] is not None:
        config = replace(config, milestones=tuple(overrides["milestones"]))
    if trainer.at_step_ratio is not None:  # fast AT: one step of 1.25·ε (FGSM-RS) unless given
        step = overrides.get("at_step") or trainer.at_step_ratio * config.at_eps
        steps = overrides.get("at_steps") or trainer.at_steps or config.at_steps
        config = replace(config, at_step=step, at_steps=steps)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """Reject out-of-range settings with one clear message each."""
    config.defense_obj()  # checks ε, step, γ, inner loss, defense name
    if config.epochs < 1 or config.batch_size < 1:
        raise InvalidValueError("epochs and batch size must be ≥ 1")
    if config.lr <= 0:
        raise InvalidValueError(f"learning rate must be > 0, got {config.lr:g}")
    if not 0.0 <= config.alpha <= 1.0:
        raise InvalidValueError(f"PAT α must lie in [0, 1], got {config.alpha:g}")
    if config.precision not in PRECISIONS:
        raise InvalidValueError(
            f"unknown precision {config.precision!r}; valid: {', '.join(PRECISIONS)}"
        )
    if config.adp_members < 2:
        raise InvalidValueError("ADP needs at least 2 ensemble members")
    if any(m < 1 for m in config.milestones):
        raise InvalidValueError("LR milestones are epochs ≥ 1")
