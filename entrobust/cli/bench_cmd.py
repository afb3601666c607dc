"""``entrobust bench``: the main job — train every defense, run the paper's attack grid, print it."""

from __future__ import annotations

import argparse
from pathlib import Path

from entrobust.attacks import AttackOptions
from entrobust.bench.grid import rows_from_names
from entrobust.bench.runner import Shard, merge_shards, plan_bench, run_bench
from entrobust.cli.argtypes import int_list, name_list, positive_int
from entrobust.cli.train_cmd import add_data_options, add_runtime_options, runtime_from_args
from entrobust.training import PROFILES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="train (or reuse) defenses and evaluate them under the paper's attack grid",
        description="Results go to OUT/results.csv (one row per cell, resumable) and "
        "OUT/table.{md,csv,tex}.",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--defenses", type=name_list, required=True, help="e.g. pat,pat-entm,trades")
    p.add_argument(
        "--attacks", type=name_list, help="override the paper's rows; bb:NAME for a black-box row"
    )
    p.add_argument("--seeds", type=int_list, default=(0,), help="e.g. 0,1,2")
    p.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES.names())}")
    p.add_argument("--arch", help="override the dataset's default architecture")
    p.add_argument("--autoattack", action="store_true", help="add AutoAttack standard as a row")
    p.add_argument("--restarts", type=positive_int, default=5, help="random restarts (paper: 5)")
    p.add_argument("--out", help="results directory (default: results/DATASET-PROFILE)")
    p.add_argument("--shard", type=Shard.parse, help="i/n: run every n-th cell (job arrays)")
    p.add_argument("--merge", action="store_true", help="merge OUT/results-shard*.csv and report")
    p.add_argument("--batch-size", type=positive_int, default=256, help="attack batch size")
    add_data_options(p)
    add_runtime_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan = plan_bench(
        args.dataset,
        args.defenses,
        seeds=args.seeds or (0,),
        profile=args.profile,
        rows=rows_from_names(args.attacks) if args.attacks else None,
        autoattack=args.autoattack,
        data_dir=args.data_dir,
        arch=args.arch,
    )
    out = Path(args.out or f"results/{args.dataset}-{args.profile}")
    if args.merge:
        result = merge_shards(plan, out)
    else:
        result = run_bench(
            plan,
            out_dir=out,
            runs_dir=args.runs_dir,
            data_dir=args.data_dir,
            download=args.download,
            device=args.device,
            progress=not args.no_progress,
            shard=args.shard,
            batch_size=args.batch_size,
            options=AttackOptions(restarts=args.restarts),
            runtime=runtime_from_args(args),
        )
    print(result.markdown)
    print(f"results: {result.results_path}  tables: {out}/table.md .csv .tex")
    return 0
