"""``entrobust regress``: a bench's results against a committed baseline, for CI.

Exit status 0 when every number is within its tolerance and every stated direction holds,
1 otherwise (one ``FAIL cell: why`` line each), 2 for a usage error. ``--update`` writes the
baseline from the results instead (keeping hand-set per-cell tolerances and directions).
See :mod:`entrobust.bench.regress` for the baseline format.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from entrobust.cli.argtypes import nonneg_float, path_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regress",
        help="compare a bench's results with a committed baseline (exit 1 on a regression)",
        description="Compare results.csv (of `entrobust bench`/`reproduce`) with a baseline: "
        "exit 1 when a number leaves its tolerance or a stated direction fails. Tolerance: a "
        "cell's own 'tol', else max(floor, k·std) when the baseline has ≥ 3 seeds, else the "
        "default.",
    )
    p.add_argument(
        "--results",
        type=path_arg,
        required=True,
        help="a bench's --out folder (its results.csv, or one per dataset in subfolders)",
    )
    p.add_argument("--baseline", type=path_arg, required=True, help="the baseline JSON")
    p.add_argument("--update", action="store_true", help="write the baseline from the results")
    p.add_argument("--k", type=nonneg_float, help="tolerance = k·std (default: baseline's, or 3)")
    p.add_argument(
        "--floor", type=nonneg_float, help="smallest k·std tolerance, points (default 1.0)"
    )
    p.add_argument(
        "--tol",
        type=nonneg_float,
        help="tolerance of cells without measured spread, points (default 5.0)",
    )
    p.add_argument(
        "--modes",
        default=None,
        help="only these row modes, comma list (white-box, black-box, cascade; default all)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from entrobust.atomic import write_json
    from entrobust.bench.regress import compare, make_baseline, read_results, tolerance
    from entrobust.statefiles import read_json

    settings = {
        key: value
        for key, value in (("k", args.k), ("floor", args.floor), ("default", args.tol))
        if value is not None
    }
    modes = tuple(m.strip() for m in args.modes.split(",")) if args.modes else None
    measured = read_results(args.results, modes)
    values = {k: round(m.mean, 2) for k, m in measured.items()}
    baseline_path = Path(args.baseline)
    exists = baseline_path.exists() or baseline_path.is_symlink()
    old = read_json(baseline_path, remedy="fix it or rewrite it with --update") if exists else {}
    if args.update:
        doc = make_baseline(measured, old, settings)
        problems = compare(values, doc)
        if problems:
            for p in problems:
                print(f"FAIL {p}")
            print("refusing to update the baseline: a stated direction does not hold")
            return 1
        write_json(baseline_path, doc)
        spread = sum(1 for c in doc["cells"].values() if "std" in c)
        print(
            f"baseline written to {baseline_path}: {len(doc['cells'])} cells, {spread} with "
            "tolerance from their measured spread"
        )
        return 0
    if not exists:
        print(f"no baseline at {baseline_path}; write one with --update")
        return 1
    failures = compare(values, old, settings)
    tol_settings = {**old.get("tolerance", {}), **settings}
    for key in sorted(values):
        spec = old.get("cells", {}).get(key)
        if spec is not None:
            tol, how = tolerance(spec, tol_settings)
            print(
                f"{key:<44} {values[key]:7.2f}  baseline {spec['value']:7.2f} ± {tol:.2f} ({how})"
            )
    for f in failures:
        print(f"FAIL {f}")
    print(
        f"regress: {len(values)} cells, {len(failures)} failure(s)"
        + ("" if failures else "; everything within tolerance")
    )
    return 1 if failures else 0
