"""``entrobust attack``: evaluate a trained run under attacks; print and save the accuracies.

``--run DIR`` takes a run directory, ``--checkpoint FILE`` any entrobust checkpoint (a run's
``final.pt`` or a file in that format, see :mod:`entrobust.training.runfiles`), ``--model
PKG.MODULE:FACTORY --weights FILE --dataset NAME`` any model (see :mod:`entrobust.external`).
Results go to the run's ``attacks.json`` (``FILE.attacks.json`` beside a checkpoint outside a
run or beside ``--weights``; ``PKG.MODULE.FACTORY.attacks.json`` here without weights). Every
option and attack name is checked before the model or data is loaded; without ``--data-dir``
the data comes from where the run was trained (see :mod:`entrobust.cli.datadir`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from entrobust.atomic import write_json
from entrobust.attacks import AttackOptions, TransferAttack, get_attack
from entrobust.attacks.validate import check_attack
from entrobust.cli.argtypes import name_list, path_arg, steps_int, unit_float
from entrobust.cli.options import add_eval_options, add_progress_option
from entrobust.cli.target import Target, add_model_options, check_model_options, load_target
from entrobust.errors import InvalidValueError
from entrobust.evaluation import robust_flags
from entrobust.statefiles import fraction_field, read_json
from entrobust.training import load_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attack",
        help="evaluate a trained run, a checkpoint or any model under attacks",
        description="Robust accuracy of a trained run, a checkpoint or any model (--model "
        "PKG.MODULE:FACTORY --weights FILE --dataset NAME); ε = k/255 in every attack name.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=path_arg, help="a run directory made by `entrobust train`")
    src.add_argument(
        "--checkpoint",
        type=path_arg,
        help="a checkpoint file: a run's final.pt, or a file in that format (docs/training.md)",
    )
    add_model_options(p, src)
    p.add_argument(
        "--attacks",
        type=name_list,
        default=("clean", "fgsm8", "pgd10-8", "pgd40-8"),
        help="comma list, e.g. pgd40-8,cw40-16,l2pgd20-0.5 (see `entrobust list`)",
    )
    p.add_argument(
        "--transfer-from", type=path_arg, help="craft on this run (black-box) instead of the target"
    )
    p.add_argument(
        "--autoattack", action="store_true", help="add AutoAttack standard at the largest ε"
    )
    p.add_argument("--restarts", type=steps_int, default=5, help="random restarts (paper: 5)")
    p.add_argument(
        "--init-std",
        type=unit_float,
        default=0.005,
        help="std of the Gaussian start (paper: N(0, 0.005), read as std)",
    )
    add_eval_options(p)
    add_progress_option(p)
    p.set_defaults(func=run)


def _largest_linf_k(names: tuple[str, ...]) -> int:
    ks = [a.eps for a in map(get_attack, names) if a.norm == "linf" and 0 < a.eps < 1]
    return round(max(ks) * 255) if ks else 8


def _results_path(target: Target) -> Path:
    """The run's ``attacks.json``; ``STEM.attacks.json`` for a file outside a run."""
    if not target.results_stem:
        return target.out_dir / "attacks.json"
    return target.out_dir / f"{target.results_stem}.attacks.json"


def run(args: argparse.Namespace) -> int:
    check_model_options(args)
    names = tuple(dict.fromkeys(n.lower() for n in args.attacks))  # repeats are one row
    options = AttackOptions(restarts=args.restarts, init_std=args.init_std, seed=args.seed)
    if args.autoattack:
        names += (f"autoattack-{_largest_linf_k(names)}",)
    attacks = [check_attack(get_attack(n, options)) for n in names]  # before any work
    target = load_target(args, args.test_size)
    proxy = load_run(args.transfer_from, args.device) if args.transfer_from else None
    if proxy is not None and proxy.config.dataset != target.dataset:
        raise InvalidValueError(
            f"proxy was trained on {proxy.config.dataset}, target on {target.dataset}"
        )
    results_path = _results_path(target)
    results = {}
    if results_path.exists() or results_path.is_symlink():
        results = read_json(
            results_path,
            remedy="move it away; rerunning the attacks recomputes its results",
            check=fraction_field("accuracy"),
        )
    data = target.data
    mode = "black-box" if proxy else "white-box"
    print(f"{target.label} ({mode}, n = {len(data.x_test)})")
    print(f"{'attack':<22} {'accuracy %':>10} {'seconds':>8}")
    for atk in attacks:
        t0 = time.perf_counter()
        used = TransferAttack(proxy.model, atk) if proxy else atk
        show = not args.no_progress and atk.name != "clean"
        flags = robust_flags(
            target.model,
            used,
            data.x_test,
            data.y_test,
            args.batch_size,
            seed=args.seed,
            progress=show,
        )
        acc = flags.float().mean().item()
        seconds = time.perf_counter() - t0
        key = f"{mode}:{atk.name}" + (f":{proxy.run_dir.name}" if proxy else "")
        results[key] = {
            "attack": atk.name,
            "mode": mode,
            "accuracy": acc,
            "n": len(data.x_test),
            "seconds": seconds,
            "proxy": str(proxy.run_dir) if proxy else None,
            "restarts": args.restarts,
            "init_std": args.init_std,
            "seed": args.seed,
        }
        write_json(results_path, results)
        print(f"{atk.name:<22} {100 * acc:>10.2f} {seconds:>8.1f}", flush=True)
    print(f"saved to {results_path}")
    return 0
