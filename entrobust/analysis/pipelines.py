"""The analysis experiments end to end: load the runs, compute, write CSV/PNG, summarise.

One function per analysis of ``entrobust analyze`` (and of ``entrobust reproduce --table 4``
/ ``--table 10``): each takes the run directories and typed settings, writes its files into
``out`` (default :func:`default_out_dir`) and returns an :class:`AnalysisResult` — the full
table, the summary the command prints, the title of that summary and the written paths.

Without an explicit ``data_dir`` a run's test data is read from where it was trained (the hint
in its ``metrics.json``), else ``$ENTROBUST_DATA``, else ``./data``
(:func:`entrobust.training.runfiles.data_dir_for`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from entrobust.analysis.output import save_csv, save_figure
from entrobust.analysis.runs import LabelledRun, evaluation_split, load_runs
from entrobust.data import DatasetSplits
from entrobust.errors import InvalidValueError
from entrobust.training.runfiles import data_dir_for, default_data_dir

PathLike = str | Path


@dataclass
class AnalysisResult:
    """What one analysis computed and wrote.

    Attributes:
        table: the full table written as CSV (for Table 4: the summary; per-example rows in
            ``frames``).
        summary: the short table a command prints (accuracies in % where the title says so).
        title: one line describing ``summary``.
        paths: the files written (CSV first, then the figures).
        frames: the per-run frames, keyed by legend label.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    title: str
    paths: list[Path]
    frames: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSettings:
    """Settings every analysis of trained runs shares.

    Attributes:
        data_dir: where the datasets live (``None``: each run's own, see the module doc).
        test_size: evaluate on a stratified test subset (default: the run's own).
        device: ``auto``, ``cpu``, ``cuda``, ...
        batch_size: evaluation batch size.
        seed: seed of random starts and directions.
    """

    data_dir: str | None = None
    test_size: int | None = None
    device: str = "auto"
    batch_size: int = 256
    seed: int = 0


def set_name(dirs: Sequence[PathLike]) -> str:
    """A folder name for an analysis over several runs: their names joined with ``+``, or,
    when that is long, the first two, the count of the rest and a hash of the whole set.

    Example:
        >>> set_name(["runs/a", "runs/b"])
        'a+b'
        >>> set_name([f"runs/digits-tiny-pat-s{i}-0123456789ab" for i in range(5)])[:68]
        'digits-tiny-pat-s0-0123456789ab+digits-tiny-pat-s1-0123456789ab+3-mo'
    """
    names = [Path(d).name for d in dirs]
    joined = "+".join(names)
    if len(joined) <= 100:
        return joined
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:8]
    return f"{'+'.join(names[:2])}+{len(names) - 2}-more-{digest}"


def default_out_dir(
    dirs: Sequence[PathLike], out: PathLike | None = None, fallback: PathLike | None = None
) -> Path:
    """``out``; else ``<run>/analysis`` for one run, and for several runs
    ``<their folder>/analysis/<set name>`` (never inside one of them); with no run,
    ``<fallback or .>/analysis``.

    Example:
        >>> default_out_dir(["runs/a", "runs/b"]).as_posix()
        'runs/analysis/a+b'
        >>> default_out_dir(["runs/a"]).as_posix(), default_out_dir([], fallback="r").as_posix()
        ('runs/a/analysis', 'r/analysis')
    """
    if out:
        return Path(out)
    if not dirs:
        return Path(fallback or ".") / "analysis"
    if len(dirs) == 1:
        return Path(dirs[0]) / "analysis"
    return Path(dirs[0]).parent / "analysis" / set_name(dirs)


def _split(lr: LabelledRun, s: EvalSettings, cap: int | None = None) -> DatasetSplits:
    return evaluation_split(lr.run, data_dir_for(s.data_dir, lr.run.metrics), s.test_size, cap)


def _pct(frame: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    shown = frame.copy()
    for c in cols:
        shown[c] = (100 * shown[c]).round(2)
    return shown


def _concat(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The per-run frames as one, with a ``model`` column."""
    return pd.concat([f.assign(model=k) for k, f in frames.items()], ignore_index=True)


def eps_curve_analysis(
    runs: Sequence[PathLike],
    ks: Sequence[int],
    *,
    restarts: int = 1,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Fig. 1: robust accuracy vs ε = k/255 (PGD, k steps of 2/255) for every run;
    writes ``eps_curve.csv`` and ``eps_curve.png``."""
    from entrobust.analysis.curves import eps_curve
    from entrobust.analysis.plots import plot_eps_curve

    s, frames, loaded = settings, {}, load_runs(runs, settings.device)
    for lr in loaded:
        d = _split(lr, s)
        frames[lr.label] = eps_curve(
            lr.run.model, d.x_test, d.y_test, ks,
            restarts=restarts, seed=s.seed, batch_size=s.batch_size,
        )  # fmt: skip
    table = _concat(frames)
    where = default_out_dir(runs, out)
    paths = [
        save_csv(table, where / "eps_curve.csv"),
        save_figure(plot_eps_curve(frames, loaded[0].run.config.dataset), where / "eps_curve.png"),
    ]
    wide = table.pivot(index="k", columns="model", values="accuracy").reset_index()
    title = "robust accuracy (%) vs k (ε = k/255, k steps of 2/255):"
    return AnalysisResult(table, _pct(wide, tuple(frames)), title, paths, frames)


def steps_curve_analysis(
    runs: Sequence[PathLike],
    eps_ks: Sequence[int],
    steps: Sequence[int],
    *,
    adaptive: bool = True,
    gammas: Sequence[float] | None = None,
    restarts: int = 1,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Fig. 2: robust accuracy vs #steps, PGD and (``adaptive``) the adaptive attack;
    writes ``steps_curve.csv`` and ``steps_curve.png``."""
    from entrobust.analysis.curves import steps_curve
    from entrobust.analysis.plots import plot_steps_curve
    from entrobust.attacks.adaptive import GAMMAS

    s, frames, loaded = settings, {}, load_runs(runs, settings.device)
    for lr in loaded:
        d = _split(lr, s)
        frames[lr.label] = steps_curve(
            lr.run.model, d.x_test, d.y_test, eps_ks, steps,
            adaptive=adaptive, gammas=GAMMAS if gammas is None else gammas,
            restarts=restarts, seed=s.seed, batch_size=s.batch_size,
        )  # fmt: skip
    table = _concat(frames)
    where = default_out_dir(runs, out)
    dataset = loaded[0].run.config.dataset
    paths = [
        save_csv(table, where / "steps_curve.csv"),
        save_figure(plot_steps_curve(frames, dataset), where / "steps_curve.png"),
    ]
    wide = table.pivot_table(index=["k", "steps"], columns=["model", "attack"], values="accuracy")
    wide.columns = [f"{m}/{a}" for m, a in wide.columns]
    wide = wide.reset_index()
    title = "robust accuracy (%) vs #steps (ε = k/255, step max(1/510, 2ε/steps)):"
    return AnalysisResult(table, _pct(wide, tuple(wide.columns[2:])), title, paths, frames)


def lambda_sweep_analysis(
    lams: Sequence[float],
    *,
    runs: Sequence[PathLike] = (),
    dataset: str | None = None,
    defense: str = "pat-entm",
    profile: str = "quick",
    attack: str = "pgd40-8",
    restarts: int = 5,
    epochs: int | None = None,
    train_size: int | None = None,
    runs_dir: PathLike = "runs",
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Fig. 3: train (or reuse) one run per λ (based on the config of the first of ``runs``,
    else on ``dataset``), then clean and ``attack`` accuracy; writes ``lambda_sweep.csv``/``.png``."""
    from entrobust.analysis.lambda_sweep import lambda_sweep, sweep_configs
    from entrobust.analysis.plots import plot_lambda_sweep
    from entrobust.attacks import get_attack
    from entrobust.attacks.validate import check_attack
    from entrobust.training import load_run

    s = settings
    check_attack(get_attack(attack))  # before any training
    base = load_run(runs[0]) if runs else None
    data_dir = data_dir_for(s.data_dir, base.metrics) if base else s.data_dir or default_data_dir()
    configs = sweep_configs(
        base.config if base else None,
        lams,
        dataset=dataset if base is None else None,
        defense=defense,
        profile=profile,
        seed=s.seed,
        data_dir=data_dir,
        epochs=epochs,
        train_size=train_size,
    )
    frame = lambda_sweep(
        configs,
        attack=attack,
        runs_dir=runs_dir,
        data_dir=data_dir,
        device=s.device,
        test_size=s.test_size,
        restarts=restarts,
        seed=s.seed,
        progress=progress,
        on_result=on_result,
    )
    where = default_out_dir(runs, out, Path(runs_dir))
    title = f"λ sweep: {configs[0].dataset}/{defense} ({configs[0].profile})"
    paths = [
        save_csv(frame, where / "lambda_sweep.csv"),
        save_figure(plot_lambda_sweep(frame, title), where / "lambda_sweep.png"),
    ]
    shown = _pct(
        frame[["lam", "clean_accuracy", "robust_accuracy", "cached"]],
        ("clean_accuracy", "robust_accuracy"),
    )
    return AnalysisResult(frame, shown, f"accuracy (%) vs λ ({attack}):", paths)


def jacobian_table_analysis(
    runs: Sequence[PathLike],
    *,
    attack: str = "l2pgd20-0.5",
    restarts: int = 5,
    power_iters: int = 100,
    min_l2_steps: int = 100,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Table 4 + Fig. 4: margins, ‖J‖₂, Q_f and distortion on at most 2,000 test points per
    run; writes ``jacobian_per_example.csv``, ``table4.csv``, ``margin_distortion.png``."""
    from entrobust.analysis.plots import plot_margin_distortion
    from entrobust.analysis.table4 import (
        distortion_correlation,
        jacobian_analysis,
        table4_summary,
    )
    from entrobust.attacks import AttackOptions, get_attack
    from entrobust.attacks.min_l2 import MinimalL2
    from entrobust.attacks.validate import check_attack

    s = settings
    atk = check_attack(get_attack(attack, AttackOptions(restarts=restarts, seed=s.seed)))
    if atk.norm != "l2":
        raise InvalidValueError(f"--attack must be an L2 attack (Theorem 1), got {attack!r}")
    frames = {}
    for lr in load_runs(runs, s.device):
        d = _split(lr, s, cap=2000)
        frames[lr.label] = jacobian_analysis(
            lr.run.model, d.x_test, d.y_test,
            attack=atk, min_l2=MinimalL2(steps=min_l2_steps, seed=s.seed),
            power_iters=power_iters, batch_size=s.batch_size, seed=s.seed,
        )  # fmt: skip
    summary = table4_summary(frames)
    per_example = _concat(frames)
    corr = {k: distortion_correlation(f)[0] for k, f in frames.items()}
    where = default_out_dir(runs, out)
    paths = [
        save_csv(per_example, where / "jacobian_per_example.csv"),
        save_csv(summary, where / "table4.csv", index=True),
        save_figure(plot_margin_distortion(frames, corr), where / "margin_distortion.png"),
    ]
    title = "Table 4 (means over examples; accuracy as a fraction):"
    return AnalysisResult(summary, summary.reset_index(), title, paths, frames)


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def surface_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, index): the largest loss and smallest margin on the plane, the fraction
    of it misclassified (M < 0), and the loss and margin at the image itself."""
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
    return summary.merge(
        centre[["model", "index", "loss", "margin"]].rename(
            columns={"loss": "loss_at_X", "margin": "margin_at_X"}
        ),
        on=["model", "index"],
    )


def surface_analysis(
    runs: Sequence[PathLike],
    indices: Sequence[int],
    *,
    grid: int = 21,
    radius: float = 0.04,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Figs. 5–6: loss and margin surfaces around test images ``indices``; writes
    ``surface.csv`` and one ``surface_<model>_<index>.png`` per run and image."""
    from entrobust.analysis.plots import plot_surface
    from entrobust.analysis.surface import loss_surface

    s, parts, paths = settings, [], []
    where = default_out_dir(runs, out)
    for lr in load_runs(runs, s.device):
        d = _split(lr, s)
        for i in indices:
            if not 0 <= i < len(d.x_test):
                raise InvalidValueError(f"--index {i} is outside the {len(d.x_test)} test images")
            f = loss_surface(
                lr.run.model, d.x_test[i : i + 1], d.y_test[i],
                radius=radius, grid=grid, seed=s.seed + i, batch_size=max(s.batch_size, 1),
            )  # fmt: skip
            parts.append(f.assign(model=lr.label, index=i, label=int(d.y_test[i])))
            title = f"{lr.label}: test image {i} (label {int(d.y_test[i])})"
            paths.append(
                save_figure(plot_surface(f, title), where / f"surface_{_safe(lr.label)}_{i}.png")
            )
    table = pd.concat(parts, ignore_index=True)
    paths.insert(0, save_csv(table, where / "surface.csv"))
    title = "surfaces (misclassified = fraction of the plane with M < 0):"
    return AnalysisResult(table, surface_summary(table), title, paths)


def random_search_analysis(
    runs: Sequence[PathLike],
    *,
    pgd: str = "pgd10-8",
    eps_k: int = 8,
    samples: int = 10_000,
    restarts: int = 5,
    settings: EvalSettings = EvalSettings(),
    out: PathLike | None = None,
) -> AnalysisResult:
    """Table 10: random search (ε = ``eps_k``/255) on the survivors of ``pgd``, on at most
    1,000 test points per run; writes ``random_search.csv`` and ``random_search.png``."""
    from entrobust.analysis.plots import plot_random_search
    from entrobust.analysis.random_search_table import random_search_row, random_search_table
    from entrobust.attacks import get_attack
    from entrobust.attacks.validate import check_attack

    s = settings
    check_attack(get_attack(pgd))  # validate before any work
    rows = {}
    for lr in load_runs(runs, s.device):
        d = _split(lr, s, cap=1000)
        rows[lr.label] = random_search_row(
            lr.run.model, d.x_test, d.y_test,
            pgd=pgd, eps_k=eps_k, samples=samples, restarts=restarts,
            seed=s.seed, batch_size=s.batch_size,
        )  # fmt: skip
    table = random_search_table(rows)
    where = default_out_dir(runs, out)
    paths = [
        save_csv(table, where / "random_search.csv"),
        save_figure(plot_random_search(table), where / "random_search.png"),
    ]
    title = f"random search ({samples} tries, ε = {eps_k}/255) on {pgd} survivors:"
    return AnalysisResult(table, table, title, paths)


__all__ = [
    "AnalysisResult",
    "EvalSettings",
    "default_out_dir",
    "eps_curve_analysis",
    "jacobian_table_analysis",
    "lambda_sweep_analysis",
    "random_search_analysis",
    "set_name",
    "steps_curve_analysis",
    "surface_analysis",
    "surface_summary",
]
