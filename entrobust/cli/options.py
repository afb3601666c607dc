"""Options shared by ``bench`` and ``reproduce``: the attacks' settings and training overrides.

Everything here changes numbers, so every option enters the identity of what it changes: the
attack options the attack's config hash (hence the result cells), the training overrides the
run's config hash (hence a run trained with an override is found and reused, not retrained).
"""

from __future__ import annotations

import argparse

from entrobust.attacks import AttackOptions
from entrobust.attacks.threat import INITS
from entrobust.cli.argtypes import int_list_in, nonneg_float, positive_int, seed
from entrobust.cli.train_cmd import add_train_overrides

#: The paper's averaging protocol: "3 models … each PGD repeated 3 times".
PAPER_SEEDS = (0, 1, 2)
PAPER_REPEATS = 3


def add_attack_options(p: argparse.ArgumentParser) -> None:
    """The evaluation attacks' settings (paper defaults) and the attack batch size."""
    g = p.add_argument_group("attacks (defaults: the paper's)")
    g.add_argument("--restarts", type=positive_int, default=5, help="random restarts (paper: 5)")
    g.add_argument(
        "--attack-init", choices=INITS, default="normal", help="start rule (paper: normal)"
    )
    g.add_argument(
        "--attack-init-std",
        type=nonneg_float,
        default=0.005,
        help="std of the normal start (paper: 0.005)",
    )
    g.add_argument("--attack-seed", type=seed, default=0, help="seed mixed into every cell's RNG")
    g.add_argument(
        "--attack-repeats",
        type=positive_int,
        help="run each randomized attack R times with different seeds (default: 3 with "
        "--profile paper, as the paper; else 1)",
    )
    g.add_argument(
        "--attack-batch-size", type=positive_int, default=256, help="batch size of the attacks"
    )


def add_cascade_options(p: argparse.ArgumentParser, default: bool | None) -> None:
    """``--cascade/--no-cascade`` and ``--cascade-eps``: the worst case's stronger attacks."""
    p.add_argument(
        "--cascade",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="the adaptive attack and AutoAttack on the survivors at each ε, for the worst-case "
        "rows (default: on" + (", off with --attacks)" if default is None else ")"),
    )
    p.add_argument(
        "--cascade-eps",
        type=int_list_in(1, 255, "ε's (k in k/255)"),
        help="ε's (k) of the cascade, e.g. 16,32,64 (default: up to 2x the training ε with "
        "--profile paper, the training ε otherwise)",
    )


def attack_options(args: argparse.Namespace) -> AttackOptions:
    """The :class:`AttackOptions` the command line asks for."""
    return AttackOptions(
        restarts=args.restarts,
        init=args.attack_init,
        init_std=args.attack_init_std,
        seed=args.attack_seed,
    )


def add_bench_overrides(p: argparse.ArgumentParser) -> None:
    """Every training override of ``train`` (``--batch-size`` spelled ``--train-batch-size``,
    beside ``--attack-batch-size``, so that no batch size is ambiguous)."""
    add_train_overrides(p, batch_flag="--train-batch-size")


def seeds_and_repeats(args: argparse.Namespace) -> tuple[tuple[int, ...], int]:
    """``--seeds`` and ``--attack-repeats``, defaulting to the paper's 3 × 3 for its profile.

    Example:
        >>> ns = argparse.Namespace(profile="paper", seeds=None, attack_repeats=None)
        >>> seeds_and_repeats(ns)
        ((0, 1, 2), 3)
        >>> seeds_and_repeats(argparse.Namespace(profile="quick", seeds=(4,), attack_repeats=None))
        ((4,), 1)
    """
    paper = args.profile == "paper"
    seeds = tuple(args.seeds) if args.seeds else (PAPER_SEEDS if paper else (0,))
    repeats = args.attack_repeats or (PAPER_REPEATS if paper else 1)
    return seeds, repeats
