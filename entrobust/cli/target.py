"""The model a command evaluates: a run (``--run``), a checkpoint (``--checkpoint``) or any
model (``--model package.module:factory [--weights FILE] --dataset NAME``).

Shared by ``entrobust attack`` and ``entrobust audit``: the options, their one-line errors
(checked before anything is loaded), and the test data each target is evaluated on.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from entrobust.cli.argtypes import path_arg, plain_name
from entrobust.errors import InvalidValueError


def add_model_options(p: argparse.ArgumentParser, source: argparse._MutuallyExclusiveGroup) -> None:
    """``--model`` (in the ``source`` group, beside ``--run``), ``--weights``, ``--dataset``."""
    source.add_argument(
        "--model",
        metavar="PKG.MODULE:FACTORY",
        help="any model: a callable returning an nn.Module that takes [0, 1] images (with "
        "--dataset, and usually --weights); the current folder is searched first",
    )
    p.add_argument(
        "--weights",
        type=path_arg,
        help="with --model: a state dict file, loaded with torch.load(weights_only=True)",
    )
    p.add_argument("--dataset", type=plain_name, help="with --model: the dataset to evaluate it on")


def check_model_options(args: argparse.Namespace) -> None:
    """``--weights``/``--dataset`` only with ``--model``, which needs ``--dataset``."""
    if getattr(args, "model", None):
        if not args.dataset:
            raise InvalidValueError("--model needs --dataset (the data to evaluate it on)")
        return
    for flag in ("weights", "dataset"):
        if getattr(args, flag, None):
            raise InvalidValueError(f"--{flag} goes with --model (a run knows its own)")


@dataclass
class Target:
    """What a command evaluates, on which data, and where its outputs go by default."""

    model: nn.Module
    label: str
    dataset: str
    at_eps: float
    data: Any
    out_dir: Path
    results_stem: str = ""
    run: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)


def load_target(args: argparse.Namespace, test_size: int | None = None) -> Target:
    """The model and test data named by ``--run``, ``--checkpoint`` or ``--model``."""
    from entrobust.cli.datadir import data_dir_for
    from entrobust.data import load_dataset

    check_model_options(args)
    if getattr(args, "model", None):
        from entrobust.external import check_model_on, load_external_model

        model = load_external_model(args.model, args.weights, args.device)
        data = load_dataset(
            args.dataset, data_dir=data_dir_for(args.data_dir, None), test_size=test_size
        )
        check_model_on(model, data.x_test, data.spec.num_classes, f"--model {args.model}")
        if args.weights:
            w = Path(args.weights)
            out_dir, stem = w.parent, w.stem
        else:
            out_dir, stem = Path.cwd(), args.model.replace(":", ".")
        return Target(
            model,
            f"{args.model}" + (f" with {args.weights}" if args.weights else " (no weights)"),
            args.dataset,
            data.spec.at_eps,
            data,
            out_dir,
            stem,
        )
    from entrobust.training.rundir import load_checkpoint_file, load_run, load_run_data

    checkpoint = getattr(args, "checkpoint", None)
    run = load_checkpoint_file(checkpoint, args.device) if checkpoint else None
    if run is None:
        run = load_run(args.run, args.device)
    cfg = run.config
    data = load_run_data(run, data_dir_for(args.data_dir, run.metrics), test_size=test_size)
    stem = Path(checkpoint).stem if checkpoint and not run.metrics else ""
    return Target(
        run.model,
        f"{cfg.dataset}/{cfg.defense} seed {cfg.seed}",
        cfg.dataset,
        cfg.at_eps,
        data,
        run.run_dir if not stem else Path(checkpoint).parent,
        stem,
        run=run,
        metrics=dict(run.metrics),
    )
