"""``entrobust audit``: automated gradient-masking checks on a trained run or any model.

``--run DIR`` audits a run; ``--model PKG.MODULE:FACTORY --weights FILE --dataset NAME`` any
model (see :mod:`entrobust.external`). Writes ``audit.md`` and ``audit.json`` (default: into
the run directory; beside ``--weights`` in ``STEM-audit/``), prints one line per check, and exits with status 1 when any check fails (0 otherwise; 2 for a usage error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from entrobust.cli.argtypes import (
    dir_arg,
    eps_fraction,
    eps_text,
    int_range,
    name_list,
    path_arg,
    steps_int,
)
from entrobust.cli.options import add_eval_options, add_progress_option
from entrobust.cli.target import add_model_options, check_model_options


def check_list(text: str) -> tuple[str, ...]:
    """``--checks``: audit check keys, validated at parse time (before any data loads)."""
    from entrobust.audit import CHECK_KEYS

    names = tuple(dict.fromkeys(n.lower() for n in name_list(text)))
    unknown = [n for n in names if n not in CHECK_KEYS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown check(s) {', '.join(unknown)}; valid: {', '.join(CHECK_KEYS)}"
        )
    return names


def register(sub: argparse._SubParsersAction) -> None:
    from entrobust.audit import CHECK_KEYS
    from entrobust.audit.thresholds import RANDOM_SEARCH_SAMPLES

    p = sub.add_parser(
        "audit",
        help="gradient-masking audit of a trained run or any model (exit 1 when a check fails)",
        description="Checks after Athalye et al. 2018 and Carlini et al. 2019: white- vs "
        "black-box, random search, large ε, convergence, FGSM vs PGD, and AutoAttack's model "
        "checks. Exit status 1 when any check fails.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=path_arg, help="the run directory to audit")
    add_model_options(p, src)
    p.add_argument(
        "--proxy", type=path_arg, help="a separately trained run for the transfer check (a)"
    )
    p.add_argument(
        "--out", type=dir_arg, help="directory for audit.md/audit.json (default: the run dir)"
    )
    p.add_argument(
        "--eps",
        type=eps_fraction,
        help="ε, a fraction, e.g. 8/255 (default: the run's training ε; the dataset's for --model)",
    )
    p.add_argument(
        "--samples",
        type=int_range(1, 10_000_000, "samples"),
        default=RANDOM_SEARCH_SAMPLES,
        help=f"random-search tries per PGD survivor (default {RANDOM_SEARCH_SAMPLES}; paper 10000)",
    )
    p.add_argument("--restarts", type=steps_int, default=5, help="PGD restarts (paper: 5)")
    p.add_argument("--checks", type=check_list, help=f"subset of: {', '.join(CHECK_KEYS)}")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    add_eval_options(p)
    add_progress_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from entrobust.atomic import json_safe, write_json, write_text
    from entrobust.audit import AuditSettings, run_audit
    from entrobust.cli.target import load_target
    from entrobust.errors import InvalidValueError
    from entrobust.training import load_run

    t0 = time.perf_counter()
    check_model_options(args)
    target = load_target(args, args.test_size)
    proxy = load_run(args.proxy, args.device) if args.proxy else None
    if proxy is not None and proxy.config.dataset != target.dataset:
        raise InvalidValueError(
            f"proxy was trained on {proxy.config.dataset}, target on {target.dataset}"
        )
    eps = args.eps if args.eps is not None else round(target.at_eps * 255) / 255
    data = target.data
    settings = AuditSettings(
        eps=eps,
        restarts=args.restarts,
        samples=args.samples,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    meta = {
        "model": target.label,
        "run": str(target.run.run_dir) if target.run else None,
        "proxy": str(proxy.run_dir) if proxy else "none (check (a) skipped)",
        "dataset": target.dataset,
        "defense": target.run.config.defense if target.run else None,
    }
    print(f"auditing {meta['model']} on {len(data.x_test)} test points at ε = {eps_text(eps)}")
    report = run_audit(
        target.model,
        data.x_test,
        data.y_test,
        settings,
        proxy=proxy.model if proxy else None,
        num_classes=data.spec.num_classes,
        checks=args.checks,
        meta=meta,
        progress=not args.no_progress,
    )
    report.meta["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        out = Path(args.out)
    elif target.run is not None:
        out = target.run.run_dir
    else:
        out = target.out_dir / f"{target.results_stem}-audit"
    write_text(out / "audit.md", report.to_markdown())
    write_json(out / "audit.json", json_safe(report.to_dict()))  # NaN evidence → null
    for line in report.summary_lines():
        print(line)
    print(f"wrote {out / 'audit.md'} and {out / 'audit.json'} ({report.meta['seconds']} s)")
    if not report.passed:
        sys.stderr.write(f"entrobust audit: failed checks: {', '.join(report.failed)}\n")
        return 1
    if args.strict and report.warned:
        sys.stderr.write(f"entrobust audit: warnings (--strict): {', '.join(report.warned)}\n")
        return 1
    return 0
