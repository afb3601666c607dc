"""``entrobust attack``: evaluate a trained run under attacks; print and save the accuracies."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from entrobust.atomic import write_json
from entrobust.attacks import AttackOptions, TransferAttack, get_attack
from entrobust.cli.argtypes import name_list, positive_int
from entrobust.data import load_dataset
from entrobust.errors import InvalidValueError
from entrobust.evaluation import robust_accuracy
from entrobust.training import load_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attack",
        help="evaluate a trained run under attacks",
        description="Robust accuracy of a trained run; ε = k/255 in every attack name.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a run directory made by `entrobust train`")
    src.add_argument("--checkpoint", help="a run's final.pt")
    p.add_argument(
        "--attacks",
        type=name_list,
        default=("clean", "fgsm8", "pgd10-8", "pgd40-8"),
        help="comma list, e.g. pgd40-8,cw40-16,l2pgd20-0.5 (see `entrobust list`)",
    )
    p.add_argument("--transfer-from", help="craft on this run (black-box) instead of the target")
    p.add_argument(
        "--autoattack", action="store_true", help="add AutoAttack standard at the largest ε"
    )
    p.add_argument("--restarts", type=positive_int, default=5, help="random restarts (paper: 5)")
    p.add_argument(
        "--init-std",
        type=float,
        default=0.005,
        help="std of the Gaussian start (paper: N(0, 0.005), read as std)",
    )
    p.add_argument("--test-size", type=positive_int, help="evaluate on a stratified subset")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def _largest_linf_k(names: tuple[str, ...]) -> int:
    ks = [a.eps for a in map(get_attack, names) if a.norm == "linf" and 0 < a.eps < 1]
    return round(max(ks) * 255) if ks else 8


def run(args: argparse.Namespace) -> int:
    import torch

    run_dir = Path(args.run) if args.run else Path(args.checkpoint).parent
    target = load_run(run_dir, args.device)
    cfg = target.config
    test_size = args.test_size or cfg.test_size
    data = load_dataset(
        cfg.dataset,
        data_dir=args.data_dir,
        train_size=cfg.train_size,
        test_size=test_size,
        seed=cfg.data_seed,
    )
    names = tuple(args.attacks)
    if args.autoattack:
        names += (f"autoattack-{_largest_linf_k(names)}",)
    options = AttackOptions(restarts=args.restarts, init_std=args.init_std, seed=args.seed)
    attacks = [get_attack(n, options) for n in names]  # validate every name before any work
    proxy = load_run(args.transfer_from, args.device) if args.transfer_from else None
    if proxy is not None and proxy.config.dataset != cfg.dataset:
        raise InvalidValueError(
            f"proxy was trained on {proxy.config.dataset}, target on {cfg.dataset}"
        )
    mode = "black-box" if proxy else "white-box"
    results_path = run_dir / "attacks.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    print(f"{cfg.dataset}/{cfg.defense} seed {cfg.seed} ({mode}, n = {len(data.x_test)})")
    print(f"{'attack':<22} {'accuracy %':>10} {'seconds':>8}")
    for atk in attacks:
        torch.manual_seed(args.seed)
        t0 = time.perf_counter()
        used = TransferAttack(proxy.model, atk) if proxy else atk
        acc = robust_accuracy(target.model, used, data.x_test, data.y_test, args.batch_size)
        seconds = time.perf_counter() - t0
        key = f"{mode}:{atk.name}" + (f":{proxy.run_dir.name}" if proxy else "")
        results[key] = {
            "attack": atk.name,
            "mode": mode,
            "accuracy": acc,
            "n": len(data.x_test),
            "seconds": seconds,
            "proxy": str(proxy.run_dir) if proxy else None,
            "restarts": args.restarts,
            "init_std": args.init_std,
            "seed": args.seed,
        }
        write_json(results_path, results)
        print(f"{atk.name:<22} {100 * acc:>10.2f} {seconds:>8.1f}")
    print(f"saved to {results_path}")
    return 0
