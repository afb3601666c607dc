"""``entrobust bench``: the main job — train every defense, run the paper's attack grid, print it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from entrobust.bench.claims import report_claims
from entrobust.bench.grid import rows_from_names
from entrobust.bench.plan import BenchPlan, Shard, plan_bench, plan_models
from entrobust.bench.runner import BenchResult, merge_shards, run_bench, train_models
from entrobust.cli.argtypes import dir_arg, name_list, seed_list
from entrobust.cli.options import (
    add_attack_options,
    add_bench_overrides,
    add_cascade_options,
    add_data_options,
    add_runtime_options,
    attack_options,
    runtime_from_args,
    seeds_and_repeats,
    training_overrides,
)
from entrobust.errors import InvalidValueError
from entrobust.training import PROFILES, distributed


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
    add_job_options(p)
    add_attack_options(p)
    add_data_options(p)
    add_bench_overrides(p)
    add_runtime_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_job_options(args)
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
    result = run_plan(plan, out, args)
    if result is None:
        return 0  # --train-only, or a torchrun rank other than 0 (rank 0 evaluates, writes)
    print(result.markdown)
    tables = result.results_path.stem.replace("results", "table", 1)
    train_k = {args.dataset: plan.train_k}
    print(report_claims(None, {args.dataset: result.table}, out / "claims.json", train_k=train_k))
    print(
        f"results: {result.results_path}  tables: {out}/{tables}.md .csv .tex  claims: {out}/claims.json"
    )
    return 0


def add_job_options(p: argparse.ArgumentParser) -> None:
    """``--shard``, ``--train-only`` and ``--merge``: a plan spread over a job array."""
    g = p.add_argument_group("job arrays (share --out, --runs-dir and --data-dir)")
    g.add_argument(
        "--shard",
        type=shard_arg,
        help="i/n: worker i of n: every n-th model (defense × seed) with all its cells, into "
        "OUT/results-shardIofN.csv; with --train-only, every n-th model of the plan, proxies "
        "included",
    )
    g.add_argument(
        "--train-only",
        action="store_true",
        help="train (or reuse) every model the plan needs — defenses and black-box proxies — "
        "and evaluate nothing; a model another process is training is waited for and "
        "reused, never trained twice",
    )
    g.add_argument("--merge", action="store_true", help="merge OUT/results-shard*.csv and report")


def shard_arg(text: str) -> Shard:
    """``--shard i/n``, refused with the reason (argparse hides a type's own ValueError)."""
    try:
        return Shard.parse(text)
    except InvalidValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--shard ")) from None


def check_job_options(args: argparse.Namespace) -> None:
    """Refuse combinations of the job-array options that mean nothing, before any work."""
    if args.train_only and args.merge:
        raise InvalidValueError(
            "--train-only trains and --merge reports: run them one after the other"
        )
    if args.merge and args.shard:
        raise InvalidValueError("--merge reads every shard's results: drop --shard")


def run_plan(plan: BenchPlan, out: Path, args: argparse.Namespace) -> BenchResult | None:
    """Train, evaluate or merge ``plan`` as the job-array options say; None when nothing is
    to be reported (``--train-only``; a torchrun rank other than 0)."""
    train_kw = dict(
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        download=args.download,
        device=args.device,
        progress=not args.no_progress,
        runtime=runtime_from_args(args),
    )
    if args.train_only:
        _, trained, reused = train_models(plan_models(plan, args.shard, spread=True), **train_kw)
        if distributed.is_main_process():  # under torchrun, rank 0 reports
            print(models_line(trained, reused, args.runs_dir))
        return None
    if args.merge:
        return merge_shards(plan, out, data_dir=args.data_dir, download=args.download)
    result = run_bench(
        plan, out_dir=out, shard=args.shard, batch_size=args.attack_batch_size, **train_kw
    )
    if result is not None and (result.trained or result.reused):  # stderr: stdout is the table
        print(models_line(result.trained, result.reused, args.runs_dir), file=sys.stderr)
    return result


def models_line(trained: list[str], reused: list[str], runs_dir: str) -> str:
    """One line naming the models this process trained and those it reused."""
    return (
        f"models: trained {len(trained)} ({', '.join(trained) or '-'}); "
        f"reused {len(reused)} from {runs_dir} ({', '.join(reused) or '-'})"
    )
