"""``entrobust train``: train one defense on one dataset (or reuse the finished run)."""

from __future__ import annotations

import argparse
import sys

from entrobust.cli.argtypes import plain_name, seed
from entrobust.cli.options import (
    OVERRIDES,
    add_data_options,
    add_runtime_options,
    add_train_overrides,
    runtime_from_args,
    training_overrides,
)
from entrobust.defenses import list_defenses
from entrobust.training import PROFILES, distributed, make_config, train

__all__ = [
    "OVERRIDES",
    "add_data_options",
    "add_runtime_options",
    "add_train_overrides",
    "config_from_args",
    "register",
    "run",
    "runtime_from_args",
    "training_overrides",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a defense (cached by config hash, resumable)",
        description="Train one defense; rerunning the same command resumes or reuses the run.",
    )
    p.add_argument(
        "--dataset",
        type=plain_name,
        required=True,
        help="digits, mnist, cifar10, cifar100, svhn or an npz name",
    )
    p.add_argument("--defense", required=True, help=f"one of: {', '.join(list_defenses())}")
    p.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES.names())}")
    p.add_argument("--seed", type=seed, default=0)
    add_data_options(p)
    add_train_overrides(p)
    add_runtime_options(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace, defense: str, seed: int):
    """The TrainConfig an argparse namespace asks for."""
    return make_config(
        args.dataset,
        defense,
        profile=args.profile,
        seed=seed,
        data_dir=args.data_dir,
        **training_overrides(args),
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, args.defense, args.seed)
    result = train(
        config,
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        download=args.download,
        device=args.device,
        progress=not args.no_progress,
        runtime=runtime_from_args(args),
    )
    if not distributed.is_main_process():
        return 0  # under torchrun, rank 0 reports
    m = result.metrics
    how = "cached run, not retrained" if result.cached else f"trained in {m['train_seconds']:.1f} s"
    defense = config.defense_obj()
    if "inner" in defense.trainer_record.reads:
        inner = "its own objective (Eqn. 5)" if config.inner == "objective" else "cross-entropy"
        print(f"inner maximisation ascends {inner} (--inner {config.inner})", file=sys.stdout)
    print(
        f"{config.dataset}/{config.defense} seed {config.seed}: clean accuracy "
        f"{100 * m['clean_accuracy']:.2f}% on {m['n_test']} test images ({how}) -> {result.run_dir}",
        file=sys.stdout,
    )
    return 0
