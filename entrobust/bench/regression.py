"""CI regression of robust accuracy: a small bench compared with a committed baseline.

``run_regression`` trains the ``ci`` profile (plus the small overrides below) of Normal, EntM,
PAT, PAT-EntM and TRADES on the embedded ``digits`` set — and on MNIST when ``mnist.npz`` is
in the data dir — evaluates clean, FGSM, PGD10 and PGD20 at the training ε, and ``compare``
checks every number against ``tests/baselines/regression.json`` within its own tolerance —
with the comparison of ``entrobust regress`` (:mod:`entrobust.bench.regress`), which the
test suite also runs on this bench's ``results.csv`` (``--modes white-box``).

Update the baseline deliberately (after a change that is *meant* to move the numbers)::

    python -m entrobust.bench.regression --update --data-dir ../shared/datasets

Runs are single-threaded and seeded, so on one machine the numbers repeat exactly; the
tolerances absorb differences between CPUs and library versions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from entrobust.attacks import AttackOptions
from entrobust.bench import regress
from entrobust.bench.grid import WHITE, Row
from entrobust.bench.plan import plan_bench
from entrobust.bench.regress import Failure
from entrobust.bench.runner import run_bench
from entrobust.data import get_dataset_spec
from entrobust.defenses import trainer_of

DEFENSES = ("normal", "entm", "pat", "pat-entm", "trades")
#: The adversarially trained ones among them (asked of their trainers).
AT_DEFENSES = tuple(d for d in DEFENSES if trainer_of(d).adversarial)
#: Settings on top of the ``ci`` profile, per dataset (seconds each on 2 CPU cores).
SETTINGS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": 20, "train_size": 1437, "test_size": 360, "milestones": (15,)},
    "mnist": {"epochs": 2, "train_size": 2000, "test_size": 300, "lr": 0.05, "milestones": ()},
}
#: Default tolerance of a cell, in accuracy points (fraction × 100).
DEFAULT_TOLERANCE = 6.0
#: "≫": AT defenses must beat Normal under PGD at the training ε by at least this many points.
AT_MARGIN = 20.0
BASELINE = Path(__file__).resolve().parents[2] / "tests" / "baselines" / "regression.json"


def rows_for(dataset: str, data_dir: str | None) -> list[Row]:
    """clean, FGSM, PGD10 and PGD20 at the dataset's training ε."""
    k = round(get_dataset_spec(dataset, data_dir).at_eps * 255)
    return [
        Row(WHITE, "clean"),
        Row(WHITE, f"fgsm{k}"),
        Row(WHITE, f"pgd10-{k}"),
        Row(WHITE, f"pgd20-{k}"),
    ]


def datasets_available(data_dir: str | Path) -> list[str]:
    """``digits`` always; ``mnist`` when ``mnist.npz`` is in ``data_dir``."""
    return ["digits"] + (["mnist"] if (Path(data_dir) / "mnist.npz").is_file() else [])


def run_regression(data_dir: str | Path, work_dir: str | Path) -> dict[str, float]:
    """Run the regression grid; returns ``{"dataset/defense/attack": accuracy %}``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        values: dict[str, float] = {}
        for dataset in datasets_available(data_dir):
            plan = plan_bench(
                dataset,
                DEFENSES,
                profile="ci",
                rows=rows_for(dataset, str(data_dir)),
                data_dir=data_dir,
                overrides=SETTINGS[dataset],
                options=AttackOptions(restarts=2),
            )
            result = run_bench(
                plan,
                out_dir=Path(work_dir) / dataset,
                runs_dir=Path(work_dir) / "runs",
                data_dir=data_dir,
                device="cpu",
                progress=False,
            )
            for row in plan.rows:  # the grid's own rows (the worst case is not baselined)
                for d in plan.defenses:
                    cell = result.table.cell(row, d)
                    if cell is not None:
                        values[f"{dataset}/{d}/{row.attack}"] = round(cell.mean, 2)
        return values
    finally:
        torch.set_num_threads(threads)


def compare(values: dict[str, float], baseline: dict[str, Any]) -> list[Failure]:
    """Every baseline cell present and within tolerance; no cell missing from the baseline:
    :func:`entrobust.bench.regress.compare`, the comparison of ``entrobust regress``.

    Example:
        >>> base = {"cells": {"d/pat/clean": {"value": 90.0, "tol": 2.0}}}
        >>> compare({"d/pat/clean": 91.5}, base)
        []
        >>> [str(f) for f in compare({"d/pat/clean": 80.0}, base)]
        ['d/pat/clean: 80.00 is outside 90.00 ± 2.00']
    """
    return regress.compare(values, baseline)


def directions(values: dict[str, float], data_dir: str | None = None) -> list[Failure]:
    """Orderings that must hold at this scale, whatever the exact numbers.

    * every AT defense beats Normal by ≥ ``AT_MARGIN`` points under PGD10 and PGD20 at the
      training ε (the whole point of adversarial training);
    * no attack raises accuracy above clean, and PGD20 is not weaker than PGD10 by more than
      one point (more steps from the same start cannot help the model, up to restart noise).
    """
    failures = []
    datasets = {k.split("/")[0] for k in values}
    for ds in datasets:
        k = round(get_dataset_spec(ds, data_dir).at_eps * 255)
        for p in (10, 20):
            normal = values.get(f"{ds}/normal/pgd{p}-{k}")
            for d in AT_DEFENSES:
                v = values.get(f"{ds}/{d}/pgd{p}-{k}")
                if normal is not None and v is not None and v < normal + AT_MARGIN:
                    failures.append(
                        Failure(f"{ds}/{d}/pgd{p}-{k}", f"{v:.2f} is not ≫ normal's {normal:.2f}")
                    )
        for d in DEFENSES:
            clean = values.get(f"{ds}/{d}/clean")
            for a in (f"fgsm{k}", f"pgd10-{k}", f"pgd20-{k}"):
                v = values.get(f"{ds}/{d}/{a}")
                if clean is not None and v is not None and v > clean:
                    failures.append(Failure(f"{ds}/{d}/{a}", f"{v:.2f} > clean {clean:.2f}"))
            p10, p20 = values.get(f"{ds}/{d}/pgd10-{k}"), values.get(f"{ds}/{d}/pgd20-{k}")
            if p10 is not None and p20 is not None and p20 > p10 + 1.0:
                failures.append(Failure(f"{ds}/{d}/pgd20-{k}", f"{p20:.2f} > PGD10's {p10:.2f}"))
    return failures


def make_baseline(values: dict[str, float], tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """A baseline document with one tolerance per cell (edit cells by hand to tighten)."""
    return {
        "about": "robust-accuracy regression baseline (accuracy %); update with "
        "`python -m entrobust.bench.regression --update`",
        "torch": torch.__version__,
        "cells": {k: {"value": v, "tol": tolerance} for k, v in sorted(values.items())},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m entrobust.bench.regression [--update] [--data-dir DIR]``."""
    from entrobust.atomic import write_json

    parser = argparse.ArgumentParser(prog="python -m entrobust.bench.regression")
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--update", action="store_true", help="rewrite the committed baseline")
    parser.add_argument("--baseline", default=str(BASELINE))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        values = run_regression(args.data_dir, work)
    for key, v in sorted(values.items()):
        print(f"{key:<40} {v:6.2f}")
    problems = directions(values, args.data_dir)
    if args.update:
        if problems:
            print("refusing to update: " + "; ".join(map(str, problems)))
            return 1
        write_json(args.baseline, make_baseline(values))
        print(f"baseline written to {args.baseline}")
        return 0
    problems += compare(values, json.loads(Path(args.baseline).read_text()))
    for p in problems:
        print(f"FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
