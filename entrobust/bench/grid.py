"""The benchmark grid: which attacks (white-box and black-box) each dataset is evaluated under.

The default rows are the paper's for that dataset (Tables 1–3 and 6–9): clean, FGSM at the
smallest ε, PGD10/20/40 and CW40 at each ε, and black-box PGD10/20 at the smaller ε's through
the paper's proxy rule. For datasets the paper does not cover the ε's are (½, 1, 2) × the
training ε.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from entrobust.data import DatasetSpec

WHITE, BLACK = "white-box", "black-box"
#: Rows computed from per-point flags: ``cascade ATTACK`` is the worst case at that attack's ε
#: after adding ATTACK (tried only on the points every earlier attack left robust);
#: ``worst-case epsK`` is the fraction of points that survive every attack at ε = K/255.
CASCADE, WORST = "cascade", "worst-case"

#: ε's (k in k/255) of the paper's tables, per dataset.
PAPER_KS: dict[str, tuple[int, ...]] = {
    "cifar10": (4, 8, 16),
    "cifar100": (4, 8, 16),
    "svhn": (4, 8, 16),
    "mnist": (32, 48),
}
#: Datasets whose paper table has CW rows (SVHN's and MNIST's have none).
PAPER_CW = ("cifar10", "cifar100")


@dataclass(frozen=True)
class Row:
    """One attack row of a table: the mode and the attack's registry name."""

    mode: str
    attack: str

    @property
    def label(self) -> str:
        """``white-box pgd40-8`` style label."""
        return f"{self.mode} {self.attack}"

    @property
    def k(self) -> int | None:
        """The ε of the row as k in k/255 (``None`` for clean, L2 and minimal attacks).

        Example:
            >>> Row(WHITE, "pgd40-16").k, Row(WORST, "eps16").k, Row(WHITE, "fgsm8").k
            (16, 16, 8)
            >>> Row(WHITE, "clean").k is None, Row(WHITE, "l2pgd20-0.5").k is None
            (True, True)
            >>> [Row(WHITE, a).k for a in ("autoattack-rand-8", "ta-autoattack-8", "art-pgd40-8")]
            [8, 8, 8]
        """
        if self.mode == WORST:
            return int(self.attack[3:])
        m = re.fullmatch(
            r"(?:fgsm|(?:art-)?pgd\d+-|cw\d+-|adaptive\d+-|rs\d+-|(?:ta-)?autoattack-(?:rand-)?)"
            r"(\d+)",
            self.attack,
        )
        return int(m[1]) if m else None


def worst_row(k: int) -> Row:
    """The worst-case row at ε = k/255.

    Example:
        >>> worst_row(16).label
        'worst-case eps16'
    """
    return Row(WORST, f"eps{k}")


def grid_ks(spec: DatasetSpec) -> tuple[int, ...]:
    """The ε's (as k in k/255) evaluated for a dataset.

    Example:
        >>> from entrobust.data import get_dataset_spec
        >>> grid_ks(get_dataset_spec("cifar10")), grid_ks(get_dataset_spec("digits"))
        ((4, 8, 16), (16, 32, 64))
    """
    if spec.name in PAPER_KS:
        return PAPER_KS[spec.name]
    k = round(spec.at_eps * 255)
    return (max(1, k // 2), k, min(255, 2 * k))


def default_rows(spec: DatasetSpec) -> list[Row]:
    """The paper's attack rows for ``spec`` (see the module docstring).

    Example:
        >>> from entrobust.data import get_dataset_spec
        >>> [r.label for r in default_rows(get_dataset_spec("mnist"))][:3]
        ['white-box clean', 'white-box fgsm32', 'white-box pgd10-32']
    """
    ks = grid_ks(spec)
    rows = [Row(WHITE, "clean"), Row(WHITE, f"fgsm{ks[0]}")]
    rows += [Row(WHITE, f"pgd{p}-{k}") for p in (10, 20, 40) for k in ks]
    if spec.name in PAPER_CW or spec.name not in PAPER_KS:
        rows += [Row(WHITE, f"cw40-{k}") for k in ks]
    black_ks = ks if len(ks) == 2 else ks[:2]
    rows += [Row(BLACK, f"pgd{p}-{k}") for p in (10, 20) for k in black_ks]
    return rows


def cascade_ks(spec: DatasetSpec, profile: str = "paper") -> tuple[int, ...]:
    """The ε's (k in k/255) at which the default grid adds the cascade.

    With the ``paper`` profile: every ε of the table up to twice the training ε (on MNIST,
    CIFAR and SVHN that is all of them) — a GPU run, where the cascade costs a fraction of the
    training. With the small profiles (``quick``, ``ci``: minutes on a CPU): the training ε
    only, which keeps the README's job within its minutes; ask for more with
    ``--cascade-eps``.

    Example:
        >>> from entrobust.data import get_dataset_spec
        >>> cascade_ks(get_dataset_spec("cifar10")), cascade_ks(get_dataset_spec("digits"))
        ((4, 8, 16), (16, 32, 64))
        >>> cascade_ks(get_dataset_spec("digits"), "quick")
        (32,)
    """
    train_k = round(spec.at_eps * 255)
    if profile != "paper":
        return (train_k,)
    return tuple(k for k in grid_ks(spec) if k <= 2 * train_k)


def cascade_rows(
    spec: DatasetSpec, rows: list[Row], ks: tuple[int, ...] | None = None
) -> list[Row]:
    """The strongest attacks we have, as cascade rows at each ε of ``ks`` (default
    :func:`cascade_ks`) that ``rows`` evaluate: the
    paper's smoothed-label adaptive attack (as many steps as the grid's longest PGD) and
    AutoAttack standard, in that order (cheaper first, so AutoAttack sees fewer points).

    Example:
        >>> from entrobust.data import get_dataset_spec
        >>> spec = get_dataset_spec("mnist")
        >>> [r.label for r in cascade_rows(spec, default_rows(spec))]
        ['cascade adaptive40-32', 'cascade autoattack-32', 'cascade adaptive40-48', 'cascade autoattack-48']
    """
    steps = max(
        (int(m[1]) for r in rows if (m := re.fullmatch(r"pgd(\d+)-\d+", r.attack))), default=40
    )
    present = {r.k for r in rows}
    out = []
    for k in (k for k in (ks or cascade_ks(spec)) if k in present):
        out += [Row(CASCADE, f"adaptive{steps}-{k}"), Row(CASCADE, f"autoattack-{k}")]
    return out


def rows_from_names(names: list[str] | tuple[str, ...]) -> list[Row]:
    """``--attacks`` names to rows; ``bb:NAME`` (or ``black-box:NAME``) is a black-box row.

    Example:
        >>> [r.label for r in rows_from_names(["pgd10-8", "bb:pgd10-8"])]
        ['white-box pgd10-8', 'black-box pgd10-8']
    """
    rows = []
    for name in names:
        prefix, _, rest = name.strip().lower().partition(":")
        if rest and prefix in ("bb", BLACK):
            rows.append(Row(BLACK, rest))
        else:
            rows.append(Row(WHITE, prefix))
    return rows
