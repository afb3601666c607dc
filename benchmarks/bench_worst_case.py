"""The worst-case row's cost: the cascade (stronger attacks on the survivors only) against
running every attack on every point, measured in one run on the same trained model.

Trains (or reuses) a quick digits PAT-EntM model, then at the training ε times

* the paper's rows at that ε (FGSM is at the smallest ε only: PGD10/20/40, CW40) — shared;
* **cascade**: the adaptive attack on the points those rows left robust, then AutoAttack on
  the points still robust after it;
* **naive**: the adaptive attack and AutoAttack each on every point;

each twice in alternating order after a warm-up, and prints the ratio (cascade extra time) /
(naive extra time) and both worst cases (they agree up to the attacks' randomness)::

    python benchmarks/bench_worst_case.py              # digits, quick profile, 2 CPU cores
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from timing import save

from entrobust.attacks import AttackOptions, get_attack
from entrobust.evaluation import robust_flags
from entrobust.training import make_config, train


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--defense", default="pat-entm")
    p.add_argument("--profile", default="quick")
    p.add_argument("--runs-dir", default=None)
    p.add_argument("--data-dir", default="data")
    args = p.parse_args()
    cfg = make_config(args.dataset, args.defense, profile=args.profile, data_dir=args.data_dir)
    run = train(
        cfg,
        runs_dir=args.runs_dir or tempfile.mkdtemp(),
        data_dir=args.data_dir,
        progress=False,
        device="cpu",
    )
    from entrobust.training.runner import load_config_data

    data = load_config_data(cfg, args.data_dir)
    x, y = data.x_test, data.y_test
    k = round(cfg.at_eps * 255)
    opts = AttackOptions()
    model = run.model

    def flags(name, xs=x, ys=y):
        torch.manual_seed(0)
        return robust_flags(model, get_attack(name, opts), xs, ys)

    base, t_base = _timed(
        lambda: [flags(n) for n in (f"pgd10-{k}", f"pgd20-{k}", f"pgd40-{k}", f"cw40-{k}")]
    )
    survivors = torch.stack(base).all(0)

    def cascade():
        mask = survivors.clone()
        for name in (f"adaptive40-{k}", f"autoattack-{k}"):
            idx = mask.nonzero().squeeze(1)
            if len(idx):
                mask[idx] = flags(name, x[idx], y[idx])
        return mask

    def naive():
        return survivors & flags(f"adaptive40-{k}") & flags(f"autoattack-{k}")

    flags(f"autoattack-{k}", x[:8], y[:8])  # warm-up: the first AutoAttack call pays set-up
    times: dict[str, list[float]] = {"cascade": [], "naive": []}
    for order in (("cascade", "naive"), ("naive", "cascade")):  # alternate: drift hits both
        for name in order:
            worst, t = _timed(cascade if name == "cascade" else naive)
            times[name].append(t)
            if name == "cascade":
                worst_cascade = worst
            else:
                worst_naive = worst
    t_cascade, t_naive = (sum(times[n]) / 2 for n in ("cascade", "naive"))
    result = {
        "dataset": args.dataset,
        "defense": args.defense,
        "eps_k": k,
        "n": len(y),
        "paper_rows_seconds": t_base,
        "cascade_extra_seconds": t_cascade,
        "naive_extra_seconds": t_naive,
        "ratio_cascade_over_naive": t_cascade / t_naive,
        "ratio_total": (t_base + t_cascade) / (t_base + t_naive),
        "survivors_of_paper_rows": survivors.float().mean().item(),
        "worst_case_cascade": worst_cascade.float().mean().item(),
        "worst_case_naive": worst_naive.float().mean().item(),
    }
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    save(f"worst_case_{args.dataset}_{args.defense}", result)


if __name__ == "__main__":
    main()
