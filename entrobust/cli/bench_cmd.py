"""``entrobust bench``: the main job — train every defense, run the paper's attack grid, print it."""

from __future__ import annotations

import argparse
from pathlib import Path

from entrobust.bench.claims import report_claims
from entrobust.bench.grid import rows_from_names
from entrobust.bench.runner import Shard, merge_shards, plan_bench, run_bench
from entrobust.cli.argtypes import dir_arg, name_list, seed_list
from entrobust.cli.options import (
    add_attack_options,
    add_bench_overrides,
    add_cascade_options,
    attack_options,
    seeds_and_repeats,
    training_overrides,
)
from entrobust.cli.train_cmd import add_data_options, add_runtime_options, runtime_from_args
from entrobust.training import PROFILES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="train (or reuse) defenses and evaluate them under the paper's attack grid",
        description="Results go to OUT/results.csv (one row per cell, resumable) and "
        "OUT/table.{md,csv,tex}. Every option that changes a number is part of the identity "
        "of the cells and runs it changes: rerunning with another option into the same OUT "
        "computes new cells and never shows old ones.",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--defenses", type=name_list, required=True, help="e.g. pat,pat-entm,trades")
    p.add_argument(
        "--attacks", type=name_list, help="override the paper's rows; bb:NAME for a black-box row"
    )
    p.add_argument(
        "--seeds", type=seed_list, help="e.g. 0,1,2 (default: 0,1,2 with --profile paper, else 0)"
    )
    p.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES.names())}")
    p.add_argument("--autoattack", action="store_true", help="add AutoAttack standard as a row")
    add_cascade_options(p, default=None)
    p.add_argument(
        "--out", type=dir_arg, help="results directory (default: results/DATASET-PROFILE)"
    )
    p.add_argument("--shard", type=Shard.parse, help="i/n: run every n-th cell (job arrays)")
    p.add_argument("--merge", action="store_true", help="merge OUT/results-shard*.csv and report")
    add_attack_options(p)
    add_data_options(p)
    add_bench_overrides(p)
    add_runtime_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seeds, repeats = seeds_and_repeats(args)
    plan = plan_bench(
        args.dataset,
        args.defenses,
        seeds=seeds,
        profile=args.profile,
        rows=rows_from_names(args.attacks) if args.attacks else None,
        autoattack=args.autoattack,
        data_dir=args.data_dir,
        overrides=training_overrides(args),
        options=attack_options(args),
        attack_repeats=repeats,
        cascade=args.cascade,
        cascade_eps=args.cascade_eps,
    )
    out = Path(args.out or f"results/{args.dataset}-{args.profile}")
    if args.merge:
        result = merge_shards(plan, out, data_dir=args.data_dir, download=args.download)
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
            batch_size=args.attack_batch_size,
            runtime=runtime_from_args(args),
        )
    print(result.markdown)
    train_k = {args.dataset: round(next(iter(plan.configs.values())).at_eps * 255)}
    print(report_claims(None, {args.dataset: result.table}, out / "claims.json", train_k=train_k))
    print(
        f"results: {result.results_path}  tables: {out}/table.md .csv .tex  claims: {out}/claims.json"
    )
    return 0
