"""``entrobust analyze <what>``: the paper's analysis figures and tables from trained runs.

Each subcommand writes a CSV and PNG(s) to ``--out`` (default ``<run>/analysis/`` for one run,
``<runs folder>/analysis/<run+run+…>/`` for several) and
prints a short summary. Multi-model figures overlay the runs given with ``--runs A,B,C``.
The work is done by :mod:`entrobust.analysis.pipelines`; this module parses and prints.
"""

from __future__ import annotations

import argparse
import time

from entrobust.analysis.pipelines import (
    AnalysisResult,
    EvalSettings,
    eps_curve_analysis,
    jacobian_table_analysis,
    lambda_sweep_analysis,
    random_search_analysis,
    steps_curve_analysis,
    surface_analysis,
)
from entrobust.cli.argtypes import (
    dir_arg,
    eps_fraction,
    float_list,
    float_list_in,
    index_list,
    int_range,
    k_list,
    path_arg,
    path_list,
    plain_name,
    positive_float,
    positive_int,
    steps_int,
    steps_list,
)
from entrobust.cli.options import add_eval_options, add_progress_option

#: ``--gammas``: label-smoothing γ of the adaptive attack.
gamma_list = float_list_in(0.0, 1.0, "γ values")


def _common(p: argparse.ArgumentParser, runs_required: bool = True) -> None:
    src = p.add_mutually_exclusive_group(required=runs_required)
    src.add_argument("--run", type=path_arg, help="a run directory made by `entrobust train`")
    src.add_argument("--runs", type=path_list, help="comma list of run directories to overlay")
    p.add_argument(
        "--out",
        type=dir_arg,
        help="output directory (default: RUN/analysis/, or for several runs "
        "RUNS_FOLDER/analysis/RUN_A+RUN_B/)",
    )
    add_eval_options(p, seed_help="seed of random starts and directions")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="analysis figures: eps/steps curves, λ sweep, Jacobian, surfaces, random search",
        description="The paper's analysis experiments (Figs. 1-6, Tables 4 and 10) on trained "
        "runs; see docs/analysis.md.",
    )
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    _add_curves(what)
    _add_lambda_sweep(what)
    _add_jacobian_and_surface(what)
    _add_random_search(what)


def _add_curves(what: argparse._SubParsersAction) -> None:
    """``analyze`` ``eps-curve`` and ``steps-curve`` (Figs. 1-2)."""
    from entrobust.analysis import EPS_CURVE_KS, STEPS_CURVE_EPS, STEPS_CURVE_STEPS
    from entrobust.attacks.adaptive import GAMMAS

    q = what.add_parser("eps-curve", help="Fig. 1: accuracy vs ε (PGD, step 2/255, k steps)")
    _common(q)
    q.add_argument(
        "--ks", type=k_list, default=EPS_CURVE_KS, help="ε grid as k in ε = k/255 (k steps)"
    )
    q.add_argument("--restarts", type=steps_int, default=1)
    q.set_defaults(func=run_eps_curve)

    q = what.add_parser("steps-curve", help="Fig. 2: accuracy vs #steps, PGD and adaptive")
    _common(q)
    q.add_argument(
        "--eps-list", type=k_list, default=STEPS_CURVE_EPS, help="ε grid as k in ε = k/255"
    )
    q.add_argument("--steps", type=steps_list, default=STEPS_CURVE_STEPS, help="step counts")
    q.add_argument("--gammas", type=gamma_list, default=GAMMAS, help="adaptive attack's γ grid")
    q.add_argument("--no-adaptive", action="store_true", help="skip the adaptive attack")
    q.add_argument("--restarts", type=steps_int, default=1)
    q.set_defaults(func=run_steps_curve)


def _add_lambda_sweep(what: argparse._SubParsersAction) -> None:
    """``analyze`` ``lambda-sweep`` (Fig. 3)."""
    from entrobust.analysis import LAMBDA_GRID

    q = what.add_parser("lambda-sweep", help="Fig. 3: train one run per λ; clean and PGD acc.")
    _common(q, runs_required=False)
    q.add_argument("--dataset", type=plain_name, help="dataset (default: that of --run)")
    q.add_argument("--defense", default="pat-entm", help="pat-entm (default), entm, trades-entm")
    q.add_argument("--profile", default="quick")
    q.add_argument("--runs-dir", type=dir_arg, default="runs", help="where the λ runs are cached")
    q.add_argument("--lams", type=float_list, default=LAMBDA_GRID, help="λ grid")
    q.add_argument("--attack", default="pgd40-8", help="robust-accuracy attack (e.g. pgd40-32)")
    q.add_argument("--restarts", type=steps_int, default=5)
    q.add_argument("--epochs", type=steps_int, help="training epochs override")
    q.add_argument("--train-size", type=positive_int, help="training subset override")
    add_progress_option(q)
    q.set_defaults(func=run_lambda_sweep)


def _add_jacobian_and_surface(what: argparse._SubParsersAction) -> None:
    """``analyze`` ``jacobian`` (Table 4, Fig. 4) and ``surface`` (Figs. 5-6)."""
    q = what.add_parser("jacobian", help="Table 4 + Fig. 4: margins, ‖J‖₂, Q_f, distortion")
    _common(q)
    q.add_argument("--attack", default="l2pgd20-0.5", help="bounded L2 attack (X_adv of Q_f)")
    q.add_argument("--restarts", type=steps_int, default=5)
    q.add_argument("--power-iters", type=steps_int, default=100)
    q.add_argument("--min-l2-steps", type=steps_int, default=100, help="FAB iterations")
    q.set_defaults(func=run_jacobian)

    q = what.add_parser("surface", help="Figs. 5-6: loss and margin surfaces around images")
    _common(q)
    q.add_argument("--index", type=index_list, default=(0, 1), help="test-set indices")
    q.add_argument("--grid", type=int_range(2, 1001, "grid"), default=21, help="points per axis")
    q.add_argument("--radius", type=positive_float, default=0.04, help="largest |ε₁|, |ε₂|")
    q.set_defaults(func=run_surface)


def _add_random_search(what: argparse._SubParsersAction) -> None:
    """``analyze`` ``random-search`` (Table 10)."""
    q = what.add_parser("random-search", help="Table 10: random search on PGD survivors")
    _common(q)
    q.add_argument("--pgd", default="pgd10-8", help="the PGD attack whose survivors are searched")
    q.add_argument(
        "--eps",
        type=eps_fraction,
        default=8 / 255,
        help="random-search ε, a fraction (default 8/255); rounded to the nearest k/255, as "
        "Table 10's columns name k",
    )
    q.add_argument(
        "--samples",
        type=int_range(1, 10_000_000, "samples"),
        default=10_000,
        help="random tries per image",
    )
    q.add_argument("--restarts", type=steps_int, default=5, help="PGD restarts")
    q.set_defaults(func=run_random_search)


# ---------------------------------------------------------------------------- helpers


def _run_dirs(args: argparse.Namespace) -> list[str]:
    if getattr(args, "runs", None):
        return list(args.runs)
    return [args.run] if getattr(args, "run", None) else []


def _settings(args: argparse.Namespace) -> EvalSettings:
    return EvalSettings(args.data_dir, args.test_size, args.device, args.batch_size, args.seed)


def print_result(result: AnalysisResult, t0: float) -> None:
    """An analysis's summary as ``entrobust analyze`` prints it."""
    print(result.title)
    print(result.summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for path in result.paths:
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - t0:.1f} s")


def random_search_k(eps: float) -> int:
    """``--eps`` as the k of ε = k/255 that Table 10's columns name (at least 1).

    Example:
        >>> random_search_k(8 / 255), random_search_k(0.0314)
        (8, 8)
    """
    return max(1, round(eps * 255))


# ---------------------------------------------------------------------------- commands


def run_eps_curve(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = eps_curve_analysis(
        _run_dirs(args), args.ks, restarts=args.restarts, settings=_settings(args), out=args.out
    )
    print_result(result, t0)
    return 0


def run_steps_curve(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = steps_curve_analysis(
        _run_dirs(args),
        args.eps_list,
        args.steps,
        adaptive=not args.no_adaptive,
        gammas=args.gammas,
        restarts=args.restarts,
        settings=_settings(args),
        out=args.out,
    )
    print_result(result, t0)
    return 0


def _print_lambda(r: dict) -> None:
    print(
        f"λ = {r['lam']:g}: clean {100 * r['clean_accuracy']:.2f}%, "
        f"{r['attack']} {100 * r['robust_accuracy']:.2f}%",
        flush=True,
    )


def run_lambda_sweep(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = lambda_sweep_analysis(
        args.lams,
        runs=_run_dirs(args),
        dataset=args.dataset,
        defense=args.defense,
        profile=args.profile,
        attack=args.attack,
        restarts=args.restarts,
        epochs=args.epochs,
        train_size=args.train_size,
        runs_dir=args.runs_dir,
        progress=not args.no_progress,
        on_result=_print_lambda,
        settings=_settings(args),
        out=args.out,
    )
    print_result(result, t0)
    return 0


def run_jacobian(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = jacobian_table_analysis(
        _run_dirs(args),
        attack=args.attack,
        restarts=args.restarts,
        power_iters=args.power_iters,
        min_l2_steps=args.min_l2_steps,
        settings=_settings(args),
        out=args.out,
    )
    print_result(result, t0)
    return 0


def run_surface(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = surface_analysis(
        _run_dirs(args),
        args.index,
        grid=args.grid,
        radius=args.radius,
        settings=_settings(args),
        out=args.out,
    )
    print_result(result, t0)
    return 0


def run_random_search(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = random_search_analysis(
        _run_dirs(args),
        pgd=args.pgd,
        eps_k=random_search_k(args.eps),
        samples=args.samples,
        restarts=args.restarts,
        settings=_settings(args),
        out=args.out,
    )
    print_result(result, t0)
    return 0
