"""``entrobust analyze <what>``: the paper's analysis figures and tables from trained runs.

Each subcommand writes a CSV and PNG(s) to ``--out`` (default ``<run>/analysis/`` for one run,
``<runs folder>/analysis/<run+run+…>/`` for several) and
prints a short summary. Multi-model figures overlay the runs given with ``--runs A,B,C``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from entrobust.cli.argtypes import (
    MAX_STEPS,
    device_arg,
    dir_arg,
    float_list_in,
    int_list_in,
    int_range,
    path_arg,
    path_list,
    plain_name,
    positive_float,
    positive_int,
    seed,
    steps_int,
)
from entrobust.cli.datadir import DATA_ENV, data_dir_for, default_data_dir

WHATS = ("eps-curve", "steps-curve", "lambda-sweep", "jacobian", "surface", "random-search")


def float_list(text: str) -> tuple[float, ...]:
    """Comma-separated finite numbers ≥ 0 (fractions allowed), e.g. ``0,0.5,1,2``."""
    return float_list_in(0.0, 1e6, "numbers")(text)


#: ``--ks``/``--eps-list``: k in ε = k/255.
k_list = int_list_in(1, 255, "k in ε = k/255")
#: ``--steps``: step counts.
steps_list = int_list_in(1, MAX_STEPS, "step counts")
#: ``--gammas``: label-smoothing γ of the adaptive attack.
gamma_list = float_list_in(0.0, 1.0, "γ values")
#: ``--index``: test-set indices.
index_list = int_list_in(0, 2**31 - 1, "test-set indices")


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
    p.add_argument(
        "--data-dir",
        type=dir_arg,
        help=f"where datasets live (default: where the run was trained, else ${DATA_ENV}, "
        "else ./data)",
    )
    p.add_argument("--test-size", type=positive_int, help="evaluate on a stratified test subset")
    p.add_argument(
        "--device",
        type=device_arg,
        default="auto",
        help="auto (CUDA if present), cpu, cuda, cuda:N",
    )
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--seed", type=seed, default=0, help="seed of random starts and directions")


def register(sub: argparse._SubParsersAction) -> None:
    from entrobust.analysis import EPS_CURVE_KS, LAMBDA_GRID, STEPS_CURVE_EPS, STEPS_CURVE_STEPS
    from entrobust.attacks.adaptive import GAMMAS

    p = sub.add_parser(
        "analyze",
        help="analysis figures: eps/steps curves, λ sweep, Jacobian, surfaces, random search",
        description="The paper's analysis experiments (Figs. 1-6, Tables 4 and 10) on trained "
        "runs; see docs/analysis.md.",
    )
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")

    q = what.add_parser("eps-curve", help="Fig. 1: accuracy vs ε (PGD, step 2/255, k steps)")
    _common(q)
    q.add_argument("--ks", type=k_list, default=EPS_CURVE_KS, help="ε = k/255 grid (k steps)")
    q.add_argument("--restarts", type=steps_int, default=1)
    q.set_defaults(func=run_eps_curve)

    q = what.add_parser("steps-curve", help="Fig. 2: accuracy vs #steps, PGD and adaptive")
    _common(q)
    q.add_argument("--eps-list", type=k_list, default=STEPS_CURVE_EPS, help="k in ε = k/255")
    q.add_argument("--steps", type=steps_list, default=STEPS_CURVE_STEPS, help="step counts")
    q.add_argument("--gammas", type=gamma_list, default=GAMMAS, help="adaptive attack's γ grid")
    q.add_argument("--no-adaptive", action="store_true", help="skip the adaptive attack")
    q.add_argument("--restarts", type=steps_int, default=1)
    q.set_defaults(func=run_steps_curve)

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
    q.add_argument("--no-progress", action="store_true", help="hide training progress bars")
    q.set_defaults(func=run_lambda_sweep)

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

    q = what.add_parser("random-search", help="Table 10: random search on PGD survivors")
    _common(q)
    q.add_argument("--pgd", default="pgd10-8", help="the PGD attack whose survivors are searched")
    q.add_argument("--eps", type=int_range(1, 255, "k"), default=8, help="random-search ε = k/255")
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


def _loaded(args: argparse.Namespace):
    from entrobust.analysis.runs import load_runs

    return load_runs(_run_dirs(args), args.device)


def set_name(dirs: list[str] | tuple[str, ...]) -> str:
    """A folder name for an analysis over several runs: their names joined with ``+``, or,
    when that is long, the first two, the count of the rest and a hash of the whole set.

    Example:
        >>> set_name(["runs/a", "runs/b"])
        'a+b'
        >>> set_name([f"runs/digits-tiny-pat-s{i}-0123456789ab" for i in range(5)])[:68]
        'digits-tiny-pat-s0-0123456789ab+digits-tiny-pat-s1-0123456789ab+3-mo'
    """
    import hashlib

    names = [Path(d).name for d in dirs]
    joined = "+".join(names)
    if len(joined) <= 100:
        return joined
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:8]
    return f"{'+'.join(names[:2])}+{len(names) - 2}-more-{digest}"


def _out_dir(args: argparse.Namespace, fallback: Path | None = None) -> Path:
    """``--out``; else ``<run>/analysis`` for one run, and for several runs
    ``<their folder>/analysis/<set name>`` (never inside one of them)."""
    if args.out:
        return Path(args.out)
    dirs = _run_dirs(args)
    if not dirs:
        return Path(fallback or ".") / "analysis"
    if len(dirs) == 1:
        return Path(dirs[0]) / "analysis"
    return Path(dirs[0]).parent / "analysis" / set_name(dirs)


def _data(lr, args: argparse.Namespace, cap: int | None = None):
    from entrobust.analysis.runs import evaluation_split

    return evaluation_split(
        lr.run, data_dir_for(args.data_dir, lr.run.metrics), args.test_size, cap
    )


def _report(title: str, frame: pd.DataFrame, paths: list[Path], t0: float) -> None:
    print(title)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for path in paths:
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - t0:.1f} s")


def _pct(frame: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    shown = frame.copy()
    for c in cols:
        shown[c] = (100 * shown[c]).round(2)
    return shown


# ---------------------------------------------------------------------------- commands


def run_eps_curve(args: argparse.Namespace) -> int:
    from entrobust.analysis import eps_curve
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_eps_curve

    t0 = time.perf_counter()
    frames, runs = {}, _loaded(args)
    for lr in runs:
        d = _data(lr, args)
        frames[lr.label] = eps_curve(
            lr.run.model,
            d.x_test,
            d.y_test,
            args.ks,
            restarts=args.restarts,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    table = pd.concat([f.assign(model=k) for k, f in frames.items()], ignore_index=True)
    out = _out_dir(args)
    paths = [
        save_csv(table, out / "eps_curve.csv"),
        save_figure(plot_eps_curve(frames, runs[0].run.config.dataset), out / "eps_curve.png"),
    ]
    wide = table.pivot(index="k", columns="model", values="accuracy").reset_index()
    _report(
        "robust accuracy (%) vs k (ε = k/255, k steps of 2/255):",
        _pct(wide, tuple(frames)),
        paths,
        t0,
    )
    return 0


def run_steps_curve(args: argparse.Namespace) -> int:
    from entrobust.analysis import steps_curve
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_steps_curve

    t0 = time.perf_counter()
    frames, runs = {}, _loaded(args)
    for lr in runs:
        d = _data(lr, args)
        frames[lr.label] = steps_curve(
            lr.run.model,
            d.x_test,
            d.y_test,
            args.eps_list,
            args.steps,
            adaptive=not args.no_adaptive,
            gammas=args.gammas,
            restarts=args.restarts,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    table = pd.concat([f.assign(model=k) for k, f in frames.items()], ignore_index=True)
    out = _out_dir(args)
    paths = [
        save_csv(table, out / "steps_curve.csv"),
        save_figure(plot_steps_curve(frames, runs[0].run.config.dataset), out / "steps_curve.png"),
    ]
    wide = table.pivot_table(index=["k", "steps"], columns=["model", "attack"], values="accuracy")
    wide.columns = [f"{m}/{a}" for m, a in wide.columns]
    wide = wide.reset_index()
    _report(
        "robust accuracy (%) vs #steps (ε = k/255, step max(1/510, 2ε/steps)):",
        _pct(wide, tuple(wide.columns[2:])),
        paths,
        t0,
    )
    return 0


def run_lambda_sweep(args: argparse.Namespace) -> int:
    from entrobust.analysis import lambda_sweep, sweep_configs
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_lambda_sweep
    from entrobust.attacks import get_attack
    from entrobust.attacks.validate import check_attack
    from entrobust.training import load_run

    t0 = time.perf_counter()
    check_attack(get_attack(args.attack))  # before any training
    dirs = _run_dirs(args)
    base_run = load_run(dirs[0]) if dirs else None
    base = base_run.config if base_run else None
    data_dir = (
        data_dir_for(args.data_dir, base_run.metrics)
        if base_run
        else args.data_dir or default_data_dir()
    )
    configs = sweep_configs(
        base,
        args.lams,
        dataset=args.dataset if base is None else None,
        defense=args.defense,
        profile=args.profile,
        seed=args.seed,
        data_dir=data_dir,
        epochs=args.epochs,
        train_size=args.train_size,
    )
    frame = lambda_sweep(
        configs,
        attack=args.attack,
        runs_dir=args.runs_dir,
        data_dir=data_dir,
        device=args.device,
        test_size=args.test_size,
        restarts=args.restarts,
        seed=args.seed,
        progress=not args.no_progress,
        on_result=lambda r: print(
            f"λ = {r['lam']:g}: clean {100 * r['clean_accuracy']:.2f}%, "
            f"{r['attack']} {100 * r['robust_accuracy']:.2f}%",
            flush=True,
        ),
    )
    out = _out_dir(args, Path(args.runs_dir))
    title = f"λ sweep: {configs[0].dataset}/{args.defense} ({configs[0].profile})"
    paths = [
        save_csv(frame, out / "lambda_sweep.csv"),
        save_figure(plot_lambda_sweep(frame, title), out / "lambda_sweep.png"),
    ]
    shown = _pct(
        frame[["lam", "clean_accuracy", "robust_accuracy", "cached"]],
        ("clean_accuracy", "robust_accuracy"),
    )
    _report(f"accuracy (%) vs λ ({args.attack}):", shown, paths, t0)
    return 0


def run_jacobian(args: argparse.Namespace) -> int:
    from entrobust.analysis import jacobian_analysis, table4_summary
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_margin_distortion
    from entrobust.analysis.table4 import distortion_correlation
    from entrobust.attacks import AttackOptions, get_attack
    from entrobust.attacks.min_l2 import MinimalL2
    from entrobust.attacks.validate import check_attack
    from entrobust.errors import InvalidValueError

    t0 = time.perf_counter()
    attack = check_attack(
        get_attack(args.attack, AttackOptions(restarts=args.restarts, seed=args.seed))
    )
    if attack.norm != "l2":
        raise InvalidValueError(f"--attack must be an L2 attack (Theorem 1), got {args.attack!r}")
    frames = {}
    for lr in _loaded(args):
        d = _data(lr, args, cap=2000)
        frames[lr.label] = jacobian_analysis(
            lr.run.model,
            d.x_test,
            d.y_test,
            attack=attack,
            min_l2=MinimalL2(steps=args.min_l2_steps, seed=args.seed),
            power_iters=args.power_iters,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    summary = table4_summary(frames)
    per_example = pd.concat([f.assign(model=k) for k, f in frames.items()], ignore_index=True)
    corr = {k: distortion_correlation(f)[0] for k, f in frames.items()}
    out = _out_dir(args)
    paths = [
        save_csv(per_example, out / "jacobian_per_example.csv"),
        save_csv(summary, out / "table4.csv", index=True),
        save_figure(plot_margin_distortion(frames, corr), out / "margin_distortion.png"),
    ]
    _report(
        "Table 4 (means over examples; accuracy as a fraction):", summary.reset_index(), paths, t0
    )
    return 0


def run_surface(args: argparse.Namespace) -> int:
    from entrobust.analysis import loss_surface
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_surface
    from entrobust.errors import InvalidValueError

    t0 = time.perf_counter()
    parts, paths = [], []
    out = _out_dir(args)
    for lr in _loaded(args):
        d = _data(lr, args)
        for i in args.index:
            if not 0 <= i < len(d.x_test):
                raise InvalidValueError(f"--index {i} is outside the {len(d.x_test)} test images")
            f = loss_surface(
                lr.run.model,
                d.x_test[i : i + 1],
                d.y_test[i],
                radius=args.radius,
                grid=args.grid,
                seed=args.seed + i,
                batch_size=max(args.batch_size, 1),
            )
            parts.append(f.assign(model=lr.label, index=i, label=int(d.y_test[i])))
            title = f"{lr.label}: test image {i} (label {int(d.y_test[i])})"
            fig = plot_surface(f, title)
            paths.append(save_figure(fig, out / f"surface_{_safe(lr.label)}_{i}.png"))
    table = pd.concat(parts, ignore_index=True)
    paths.insert(0, save_csv(table, out / "surface.csv"))
    centre = table[(table["eps1"].abs() < 1e-12) & (table["eps2"].abs() < 1e-12)]
    summary = (
        table.groupby(["model", "index"])
        .agg(
            max_loss=("loss", "max"),
            min_margin=("margin", "min"),
            misclassified=("margin", lambda m: float((m < 0).mean())),
        )
        .reset_index()
    )
    summary = summary.merge(
        centre[["model", "index", "loss", "margin"]].rename(
            columns={"loss": "loss_at_X", "margin": "margin_at_X"}
        ),
        on=["model", "index"],
    )
    _report("surfaces (misclassified = fraction of the plane with M < 0):", summary, paths, t0)
    return 0


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def run_random_search(args: argparse.Namespace) -> int:
    from entrobust.analysis import random_search_row, random_search_table
    from entrobust.analysis.output import save_csv, save_figure
    from entrobust.analysis.plots import plot_random_search
    from entrobust.attacks import get_attack
    from entrobust.attacks.validate import check_attack

    t0 = time.perf_counter()
    check_attack(get_attack(args.pgd))  # validate before any work
    rows = {}
    for lr in _loaded(args):
        d = _data(lr, args, cap=1000)
        rows[lr.label] = random_search_row(
            lr.run.model,
            d.x_test,
            d.y_test,
            pgd=args.pgd,
            eps_k=args.eps,
            samples=args.samples,
            restarts=args.restarts,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    table = random_search_table(rows)
    out = _out_dir(args)
    paths = [
        save_csv(table, out / "random_search.csv"),
        save_figure(plot_random_search(table), out / "random_search.png"),
    ]
    _report(
        f"random search ({args.samples} tries, ε = {args.eps}/255) on {args.pgd} survivors:",
        table,
        paths,
        t0,
    )
    return 0
