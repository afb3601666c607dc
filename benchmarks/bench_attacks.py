"""Attack throughput: our PGD vs torchattacks', early exit vs naive restarts, transfer reuse.

Trains (or reuses, cached in benchmarks/.runs) a quick PAT model on the embedded digits set —
or on MNIST with ``--dataset mnist --data-dir ../shared/datasets`` — then times, interleaved::

    python benchmarks/bench_attacks.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torchattacks
from timing import interleaved_medians, peak_memory, save

from entrobust.attacks import PGDAttack, TransferAttack
from entrobust.data import load_dataset
from entrobust.evaluation import accuracy, robust_accuracy, run_attack
from entrobust.tensors import as_float_images
from entrobust.training import make_config, train

RUNS = Path(__file__).resolve().parent / ".runs"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--n", type=int, default=360, help="test images")
    args = p.parse_args()
    runs = {
        d: train(
            make_config(args.dataset, d, profile="quick", data_dir=args.data_dir, seed=s),
            runs_dir=RUNS,
            data_dir=args.data_dir,
            device=args.device,
            progress=False,
        )
        for d, s in (("pat", 0), ("normal", 1000), ("entm", 0), ("pat-entm", 0))
    }
    model = runs["pat"].model
    device = next(model.parameters()).device
    spec = load_dataset(args.dataset, data_dir=args.data_dir, test_size=None)
    x = as_float_images(spec.x_test[: args.n]).to(device)
    y = spec.y_test[: args.n].to(device)
    k = round(spec.spec.at_eps * 255)
    eps = k / 255
    report: dict = {"dataset": args.dataset, "n": len(x), "eps": f"{k}/255", "device": str(device)}

    # 1. Our PGD vs torchattacks' PGD: same steps, same step size, no random start.
    ours = PGDAttack(eps, 10, eps / 4, init="none")
    ta = torchattacks.PGD(model, eps=eps, alpha=eps / 4, steps=10, random_start=False)
    med = interleaved_medians(
        {"ours": lambda: ours(model, x, y), "torchattacks": lambda: ta(x, y)}, device, args.repeats
    )
    report["pgd10"] = {
        "median_seconds": med,
        "throughput_ratio ours/torchattacks (goal >= 1.0)": med["torchattacks"] / med["ours"],
        "memory": {
            "ours": peak_memory(lambda: ours(model, x, y), device),
            "torchattacks": peak_memory(lambda: ta(x, y), device),
        },
    }

    # 2. 5-restart PGD40: early exit vs naive restarts.
    early = PGDAttack(eps, 40, restarts=5, init="normal", early_exit=True)
    naive = PGDAttack(eps, 40, restarts=5, init="normal", early_exit=False)
    med = interleaved_medians(
        {"early_exit": lambda: early(model, x, y), "naive": lambda: naive(model, x, y)},
        device,
        max(3, args.repeats // 2),
        warmup=1,
    )
    robust = robust_accuracy(model, early, x, y) / max(accuracy(model, x, y), 1e-9)
    report["pgd40x5"] = {
        "median_seconds": med,
        "ratio early/naive": med["early_exit"] / med["naive"],
        "robust_fraction_of_correct": robust,
        "ideal ratio (1 + 4·robust)/5": (1 + 4 * robust) / 5,
    }

    # 3. Transfer: craft once on the proxy and reuse for 3 targets vs craft per target.
    proxy, targets = runs["normal"].model, [runs[d].model for d in ("pat", "entm", "pat-entm")]
    atk = PGDAttack(eps, 20, init="none")

    def once():
        x_adv = run_attack(atk, proxy, x, y)
        return [accuracy(t, x_adv, y) for t in targets]

    def per_target():
        return [robust_accuracy(t, TransferAttack(proxy, atk), x, y) for t in targets]

    med = interleaved_medians(
        {"craft_once": once, "craft_per_target": per_target},
        device,
        max(3, args.repeats // 2),
        warmup=1,
    )
    report["transfer_3_targets"] = {
        "median_seconds": med,
        "ratio once/per_target": med["craft_once"] / med["craft_per_target"],
    }
    for section in ("pgd10", "pgd40x5", "transfer_3_targets"):
        print(
            section,
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in report[section].items()
                if k != "memory"
            },
        )
    print(f"saved {save(f'attacks_{args.dataset}_{device.type}', report)}")


if __name__ == "__main__":
    main()
