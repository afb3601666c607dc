"""``entrobust reproduce --table N``: rerun one table of the paper and compare with it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from entrobust.bench.claims import report_claims
from entrobust.bench.estimate import THROUGHPUT, estimate, estimate_lines
from entrobust.bench.plan import plan_bench
from entrobust.bench.reproduce import (
    ANALYSIS_TABLES,
    analysis_configs,
    comparison_markdown,
    run_analysis_table,
    table5_markdown,
    table_spec,
)
from entrobust.cli.analyze_cmd import print_result
from entrobust.cli.argtypes import dir_arg, seed_list
from entrobust.cli.bench_cmd import add_job_options, check_job_options, run_plan
from entrobust.cli.options import (
    add_attack_options,
    add_bench_overrides,
    add_cascade_options,
    add_data_options,
    add_runtime_options,
    attack_options,
    seeds_and_repeats,
    training_overrides,
)
from entrobust.paperdata import paper_table
from entrobust.training import PROFILES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="reproduce one table of the paper (1–13), side by side with it",
        description="Grid tables run through `bench`; Tables 4 and 10 through `analyze`; "
        "Table 5 compares the training settings.",
    )
    p.add_argument("--table", type=int, required=True, help="1–13")
    p.add_argument("--profile", default="paper", help=f"one of: {', '.join(PROFILES.names())}")
    p.add_argument(
        "--seeds",
        type=seed_list,
        help="e.g. 0,1,2 (default: the paper's 3 models with --profile paper, else 0)",
    )
    p.add_argument("--dataset", help="for Tables 4/10 and 11: run one dataset only")
    p.add_argument(
        "--out",
        type=dir_arg,
        help="results directory: each dataset in OUT/DATASET, the layout `bench --out` writes "
        "(default: results/tableN-PROFILE)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and a GPU-hours estimate")
    add_cascade_options(p, default=True)
    add_job_options(p)
    add_attack_options(p)
    add_data_options(p)
    add_bench_overrides(p)
    add_runtime_options(p)
    p.set_defaults(func=run)


def _print_estimate(configs, cells, restarts: int) -> None:
    import torch

    for line in estimate_lines(estimate(configs, cells, restarts), torch.cuda.is_available()):
        print(f"  {line}")
    print(
        "  (forward+backward image passes ÷ assumed fp32 throughput per arch on one "
        f"A100/H100-class GPU: {THROUGHPUT}; attacks counted without early exit, "
        "black-box crafting once per proxy; see entrobust/bench/estimate.py)"
    )


def _print_plan(head: str, plan, seeds, repeats: int, args: argparse.Namespace) -> None:
    """``--dry-run`` of a grid table: the models, their training, the rows, cells, estimate."""
    configs = [*plan.configs.values(), *plan.proxies.values()]
    print(
        f"{head}, profile {args.profile}, "
        f"seeds {','.join(map(str, seeds))}, {repeats} attack repeat(s)"
    )
    print(
        f"  models: {plan.models} ({len(plan.configs)} defense×seed runs + "
        f"{len({c.hash for c in plan.proxies.values()})} black-box proxies)"
    )
    for cfg in sorted({c.hash: c for c in configs}.values(), key=lambda c: c.run_name):
        print(
            f"    {cfg.run_name}: {cfg.epochs} epochs, batch {cfg.batch_size}, lr "
            f"{cfg.lr}, milestones {list(cfg.milestones)}"
        )
    print(f"  attack rows: {len(plan.rows)} ({', '.join(r.label for r in plan.rows)})")
    print(f"  cells: {len(plan.cells)}")
    _print_estimate(configs, plan.cells, args.restarts)


def run(args: argparse.Namespace) -> int:
    n = args.table
    if n == 5:
        print(table5_markdown())
        return 0
    out = Path(args.out or f"results/table{n}-{args.profile}")
    if n in ANALYSIS_TABLES:
        return _analysis_table(n, args, out)
    check_job_options(args)
    spec = table_spec(n)
    datasets = [args.dataset] if args.dataset else spec.datasets
    seeds, repeats = seeds_and_repeats(args)
    overrides = training_overrides(args)
    arch = overrides.pop("arch", None) or spec.arch
    tables = {}
    for dataset in datasets:
        plan = plan_bench(
            dataset,
            spec.defenses,
            seeds=seeds,
            profile=args.profile,
            rows=spec.rows,
            data_dir=args.data_dir,
            arch=arch,
            overrides=overrides,
            defense_overrides=spec.overrides.get(dataset),
            options=attack_options(args),
            attack_repeats=repeats,
            cascade=args.cascade,
            cascade_eps=args.cascade_eps,
        )
        if args.dry_run:
            _print_plan(f"Table {n} — {dataset} ({arch})", plan, seeds, repeats, args)
            continue
        result = run_plan(plan, out / dataset, args)
        if result is None:
            continue  # --train-only, or a torchrun rank other than 0
        print(result.markdown)
        print(comparison_markdown(n, dataset, result.table, profile=args.profile))
        tables[dataset] = result.table
    if tables:
        print(
            report_claims(
                n, tables, out / "claims.json", title=f"Claims of the paper about Table {n}"
            )
        )
    return 0


def _analysis_table(n: int, args: argparse.Namespace, out: Path) -> int:
    dataset = args.dataset or "cifar10"
    seeds, _ = seeds_and_repeats(args)
    configs = analysis_configs(
        n,
        dataset,
        profile=args.profile,
        seeds=seeds,
        data_dir=args.data_dir,
        overrides=training_overrides(args),
    )
    what = ANALYSIS_TABLES[n]
    print(
        f"Table {n} → `entrobust analyze {what}` on {dataset}: "
        f"{', '.join(c.defense for c in configs)} (profile {args.profile})"
    )
    if args.dry_run:
        for cfg in configs:
            print(f"    {cfg.run_name}: {cfg.epochs} epochs")
        _print_estimate(configs, [], args.restarts)
        return 0
    t0 = time.perf_counter()
    result = run_analysis_table(
        n,
        configs,
        out,
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        download=args.download,
        device=args.device,
        progress=not args.no_progress,
    )
    print_result(result, t0)
    print(f"\nThe paper's Table {n} (CIFAR-10 ResNet18), for comparison:")
    print(paper_table(f"table{n}").to_string(index=False))
    return 0
