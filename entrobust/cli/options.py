"""Options shared by several commands, declared once.

* where data and runs live, the device, progress (:func:`add_data_options` for commands that
  train; :func:`add_eval_options` for commands that evaluate a trained run);
* GPU speed options that change nothing computed (:func:`add_runtime_options`);
* every training override (:func:`add_train_overrides`, read back by
  :func:`training_overrides`);
* the attacks' settings of ``bench`` and ``reproduce`` (:func:`add_attack_options`).

The overrides and attack settings change numbers, so each enters the identity of what it
changes: the attack options the attack's config hash (hence the result cells), the training
overrides the run's config hash (hence a run trained with an override is found and reused, not
retrained).
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from entrobust.attacks import AttackOptions
from entrobust.attacks.threat import INITS
from entrobust.cli import argtypes
from entrobust.cli.argtypes import (
    device_arg,
    dir_arg,
    k_list,
    nonneg_float,
    positive_int,
    seed,
)
from entrobust.cli.datadir import DATA_ENV, default_data_dir
from entrobust.training.config import OVERRIDES, Override, TrainConfig
from entrobust.training.runner import Runtime


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Where datasets and runs live, the device and progress: every command that trains."""
    p.add_argument(
        "--data-dir",
        type=dir_arg,
        default=default_data_dir(),
        help=f"where datasets / NAME.npz live (default: ${DATA_ENV}, else ./data)",
    )
    p.add_argument("--download", action="store_true", help="let torchvision download missing data")
    p.add_argument(
        "--runs-dir", type=dir_arg, default="runs", help="where runs are cached (default: ./runs)"
    )
    add_device_option(p)
    add_progress_option(p)


def add_train_overrides(p: argparse.ArgumentParser, batch_flag: str = "--batch-size") -> None:
    """Every training hyperparameter, typed; unset ones keep the profile/dataset default.

    ``batch_flag`` names the training batch size's option (``--train-batch-size`` where the
    command also has an attack batch size); it always lands in ``args.batch_size``.
    """
    g = p.add_argument_group(
        "overrides (default: the profile's and the paper's per-dataset values)"
    )
    for f in fields(TrainConfig):
        override: Override | None = f.metadata.get("override")
        if override is None:
            continue
        flag = batch_flag if f.name == "batch_size" else "--" + f.name.replace("_", "-")
        kind: dict[str, Any] = (
            {"choices": list(override.choices)}
            if override.choices
            else {"type": getattr(argtypes, override.parser)}
        )
        g.add_argument(flag, dest=f.name, help=override.help, **kind)


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Speed options that do not change what is computed (not part of the config hash)."""
    g = p.add_argument_group("runtime (GPU speed; results unchanged)")
    g.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    g.add_argument("--cudnn-benchmark", action="store_true", help="cuDNN autotuning")
    g.add_argument("--compile", action="store_true", help="torch.compile the training model")


def runtime_from_args(args: argparse.Namespace) -> Runtime:
    """The :class:`Runtime` an argparse namespace asks for."""
    return Runtime(
        channels_last=args.channels_last, cudnn_benchmark=args.cudnn_benchmark, compile=args.compile
    )


def training_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training overrides given on the command line (unset ones omitted)."""
    return {name: getattr(args, name) for name in OVERRIDES if getattr(args, name) is not None}


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device``: where to compute."""
    p.add_argument(
        "--device",
        type=device_arg,
        default="auto",
        help="auto (CUDA if present), cpu, cuda, cuda:N",
    )


def add_progress_option(p: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_eval_options(
    p: argparse.ArgumentParser, *, seed_help: str = "seed of the random starts"
) -> None:
    """Options of every command that evaluates a trained run (or any model): ``--data-dir``
    (default: where the run was trained), ``--device``, ``--test-size``, ``--batch-size``,
    ``--seed``."""
    p.add_argument(
        "--data-dir",
        type=dir_arg,
        help=f"where the dataset lives (default: where the run was trained, else ${DATA_ENV}, "
        "else ./data)",
    )
    add_device_option(p)
    p.add_argument("--test-size", type=positive_int, help="evaluate on a stratified test subset")
    p.add_argument("--batch-size", type=positive_int, default=256, help="evaluation batch size")
    p.add_argument("--seed", type=seed, default=0, help=seed_help)


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
        type=k_list,
        help="the cascade's ε grid as k in ε = k/255, e.g. 16,32,64 (default: up to 2x the training ε with "
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
