"""Training profiles: ``paper`` (Table 5 exactly), ``quick`` (minutes on 2 CPU cores), ``ci`` (seconds).

The paper's Table 5 has three columns, chosen here by architecture family and by whether the
defense uses adversarial training. ``quick`` and ``ci`` shrink epochs and data; their schedules
keep the paper's shape (SGD, momentum 0.9, weight decay 1e-4, step decay by 0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from entrobust.registry import Registry


@dataclass(frozen=True)
class Schedule:
    """Optimisation settings of one training run."""

    epochs: int
    lr: float
    milestones: tuple[int, ...]
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.1
    train_size: int | None = None
    test_size: int | None = None


#: Table 5 of the paper, keyed like ``shared/paper/tables/table5.csv``.
PAPER_TABLE5: dict[str, Schedule] = {
    "cnn4_mnist": Schedule(epochs=40, lr=0.01, milestones=(20,), batch_size=128),
    "resnet18_without_at": Schedule(epochs=200, lr=0.1, milestones=(100, 150), batch_size=64),
    "resnet18_with_at": Schedule(epochs=120, lr=0.1, milestones=(60, 84, 100), batch_size=64),
}

_SMALL_ARCHS = ("cnn4", "tiny", "tiny-bn")

# quick/ci schedules for the small 1-channel datasets (digits: 1437 train images).
_QUICK = {
    "digits": Schedule(epochs=30, lr=0.05, milestones=(20,), batch_size=64),
    "small": Schedule(
        epochs=5, lr=0.05, milestones=(4,), batch_size=128, train_size=10000, test_size=1000
    ),
    "large": Schedule(
        epochs=5, lr=0.1, milestones=(3, 4), batch_size=64, train_size=5000, test_size=1000
    ),
}
_CI = {
    "digits": Schedule(
        epochs=3, lr=0.05, milestones=(2,), batch_size=64, train_size=500, test_size=200
    ),
    "small": Schedule(
        epochs=1, lr=0.01, milestones=(), batch_size=64, train_size=500, test_size=200
    ),
    "large": Schedule(epochs=1, lr=0.1, milestones=(), batch_size=32, train_size=128, test_size=64),
}


def table5_column(arch: str, adversarial: bool) -> str:
    """Which Table 5 column applies to ``arch`` (the CNN column also covers our tiny models).

    Example:
        >>> table5_column("resnet18", adversarial=True)
        'resnet18_with_at'
        >>> table5_column("cnn4", adversarial=True)
        'cnn4_mnist'
    """
    if arch in _SMALL_ARCHS:
        return "cnn4_mnist"
    return "resnet18_with_at" if adversarial else "resnet18_without_at"


def _paper(dataset: str, arch: str, adversarial: bool) -> Schedule:
    return PAPER_TABLE5[table5_column(arch, adversarial)]


def _scaled(table: dict[str, Schedule], dataset: str, arch: str, adversarial: bool) -> Schedule:
    if dataset == "digits":
        return table["digits"]
    return table["small" if arch in _SMALL_ARCHS else "large"]


@dataclass(frozen=True)
class Profile:
    """A named training profile: ``schedule(dataset, arch, adversarial)`` gives its
    :class:`Schedule`.

    Example:
        >>> PROFILES["ci"].schedule("digits", "tiny", adversarial=True).epochs
        3
        >>> PROFILES["paper"].description
        "the paper's Table 5 schedule on the full dataset"
    """

    name: str
    schedule: Callable[[str, str, bool], Schedule] = field(repr=False)
    description: str = ""


PROFILES: Registry[Profile] = Registry(
    "profile",
    {
        p.name: p
        for p in (
            Profile("paper", _paper, "the paper's Table 5 schedule on the full dataset"),
            Profile(
                "quick",
                partial(_scaled, _QUICK),
                "a few minutes on 2 CPU cores (small models/data), a short GPU run otherwise",
            ),
            Profile("ci", partial(_scaled, _CI), "seconds: a smoke run for tests and CI"),
        )
    },
)


def resolve_schedule(profile: str, dataset: str, arch: str, adversarial: bool) -> Schedule:
    """The schedule of ``profile`` for a dataset/arch, with or without adversarial training.

    Example:
        >>> resolve_schedule("paper", "cifar10", "resnet18", adversarial=True).milestones
        (60, 84, 100)
        >>> resolve_schedule("quick", "digits", "tiny", adversarial=False).epochs
        30
    """
    return PROFILES.require(profile).schedule(dataset, arch, adversarial)
