"""Load the trained runs an analysis compares, with legend labels and their test points."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from entrobust.data import DatasetSplits, subset
from entrobust.errors import InvalidValueError
from entrobust.training import TrainConfig, TrainedRun, load_run
from entrobust.training.rundir import load_run_data


@dataclass
class LabelledRun:
    """A loaded run and its legend label (the defense name, made unique)."""

    label: str
    run: TrainedRun


def run_labels(configs: Sequence[TrainConfig], dirs: Sequence[str | Path]) -> list[str]:
    """Legend labels: the defense; ``defense-s{seed}`` when defenses repeat; else the dir name.

    Example:
        >>> from entrobust.training import make_config
        >>> cs = [make_config("digits", d, profile="ci", seed=s) for d, s in
        ...       [("pat", 0), ("pat", 1), ("entm", 0)]]
        >>> run_labels(cs, ["a", "b", "c"])
        ['pat-s0', 'pat-s1', 'entm']
    """
    counts = Counter(c.defense for c in configs)
    labels = [c.defense if counts[c.defense] == 1 else f"{c.defense}-s{c.seed}" for c in configs]
    if len(set(labels)) < len(labels):
        labels = [f"{lab} ({Path(d).name})" for lab, d in zip(labels, dirs, strict=True)]
    return labels


def load_runs(dirs: Sequence[str | Path], device: str = "cpu") -> list[LabelledRun]:
    """Load finished runs (same dataset required) with unique legend labels."""
    runs = [load_run(d, device) for d in dirs]
    datasets = {r.config.dataset for r in runs}
    if len(datasets) > 1:
        raise InvalidValueError(
            f"runs compared in one figure must share a dataset; got {', '.join(sorted(datasets))}"
        )
    labels = run_labels([r.config for r in runs], dirs)
    return [LabelledRun(lab, r) for lab, r in zip(labels, runs, strict=True)]


def evaluation_split(
    run: TrainedRun,
    data_dir: str | Path = "data",
    test_size: int | None = None,
    cap: int | None = None,
) -> DatasetSplits:
    """The run's test points: ``test_size`` (default the run's own test subset), else at most
    ``cap`` of them (a stratified, seeded subset; e.g. the paper's 2,000 for Table 4)."""
    cfg = run.config
    data = load_run_data(run, data_dir, test_size=test_size)
    if test_size is None and cap is not None and len(data.x_test) > cap:
        data = subset(data, None, cap, cfg.data_seed)
    return data


__all__ = ["LabelledRun", "evaluation_split", "load_runs", "run_labels"]
