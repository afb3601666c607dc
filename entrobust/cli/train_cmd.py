"""``entrobust train``: train one defense on one dataset (or reuse the finished run)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from entrobust.cli.argtypes import (
    decay_factor,
    device_arg,
    dir_arg,
    finite_float,
    fraction,
    int_list,
    int_range,
    momentum,
    nonneg_float,
    plain_name,
    positive_float,
    positive_int,
    seed,
    steps_int,
    unit_float,
)
from entrobust.cli.datadir import DATA_ENV, default_data_dir
from entrobust.defenses import list_defenses
from entrobust.training import PROFILES, make_config, train
from entrobust.training.runner import Runtime

#: CLI option → TrainConfig field, for every hyperparameter override.
OVERRIDES = {
    "arch": "arch",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "momentum": "momentum",
    "weight_decay": "weight_decay",
    "milestones": "milestones",
    "lr_decay": "lr_decay",
    "lam": "lam",
    "gamma": "gamma",
    "alpha": "alpha",
    "beta": "beta",
    "at_eps": "at_eps",
    "at_step": "at_step",
    "at_steps": "at_steps",
    "inner": "inner",
    "adp_members": "adp_members",
    "adp_alpha": "adp_alpha",
    "adp_beta": "adp_beta",
    "train_size": "train_size",
    "precision": "precision",
    "test_size": "test_size",
    "data_seed": "data_seed",
}


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads a dataset or runs directory."""
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
    p.add_argument(
        "--device",
        type=device_arg,
        default="auto",
        help="auto (CUDA if present), cpu, cuda, cuda:N",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_train_overrides(p: argparse.ArgumentParser, batch_flag: str = "--batch-size") -> None:
    """Every training hyperparameter, typed; unset ones keep the profile/dataset default.

    ``batch_flag`` names the training batch size's option (``--train-batch-size`` where the
    command also has an attack batch size); it always lands in ``args.batch_size``.
    """
    g = p.add_argument_group(
        "overrides (default: the profile's and the paper's per-dataset values)"
    )
    g.add_argument("--arch", type=str, help="model architecture (see `entrobust list`)")
    g.add_argument("--epochs", type=steps_int)
    g.add_argument(batch_flag, dest="batch_size", type=positive_int, help="training batch size")
    g.add_argument("--lr", type=positive_float)
    g.add_argument("--momentum", type=momentum, help="SGD momentum in [0, 1)")
    g.add_argument("--weight-decay", type=nonneg_float)
    g.add_argument("--milestones", type=int_list, help="LR decay epochs, e.g. 60,84,100")
    g.add_argument("--lr-decay", type=decay_factor, help="LR decay factor in (0, 1]")
    g.add_argument("--lam", type=finite_float, help="EntM λ")
    g.add_argument("--gamma", type=unit_float, help="label-smoothing γ in [0, 1]")
    g.add_argument("--alpha", type=unit_float, help="PAT clean-loss weight α in [0, 1]")
    g.add_argument("--beta", type=nonneg_float, help="TRADES β (default 3) or MART β (default 6)")
    g.add_argument("--at-eps", type=fraction, help="training ε, e.g. 8/255")
    g.add_argument("--at-step", type=fraction, help="training PGD step, e.g. 2/255 (fast: 1.25·ε)")
    g.add_argument("--at-steps", type=steps_int, help="training PGD steps")
    g.add_argument(
        "--inner",
        choices=["ce", "objective"],
        help="loss the inner max of PAT/MART/fast ascends: objective (Eqn. 5, default) or ce",
    )
    g.add_argument("--adp-members", type=int_range(2, 100))
    g.add_argument("--adp-alpha", type=nonneg_float)
    g.add_argument("--adp-beta", type=nonneg_float)
    g.add_argument("--train-size", type=positive_int, help="stratified training subset")
    g.add_argument("--test-size", type=positive_int, help="stratified test subset")
    g.add_argument("--data-seed", type=seed, help="seed of the subsets")
    g.add_argument("--precision", choices=["fp32", "bf16"], help="bf16 autocast for training")


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


def training_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training overrides given on the command line (unset ones omitted)."""
    return {
        field: getattr(args, opt)
        for opt, field in OVERRIDES.items()
        if getattr(args, opt) is not None
    }


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
    if os.environ.get("RANK", "0") != "0":
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
