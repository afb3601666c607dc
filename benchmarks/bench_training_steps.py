"""Training-step overhead: our defenses vs hand-written PyTorch loops on the same model/batch.

Ratios (ours / hand; goal ≤ 1.03 — ≤ 1.02 for PAT-EntM vs PAT) and the training cost of
TRADES, MART and fast AT relative to PAT, medians of interleaved timed steps after warm-up,
same process, same data::

    python benchmarks/bench_training_steps.py                      # cnn4, batch 128, CPU
    python benchmarks/bench_training_steps.py --arch resnet18 --batch 128 --device cuda \
        --precision fp32,bf16
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F
from timing import interleaved_times, paired_ratio, peak_memory, save

from entrobust.defenses import Defense, DefenseParams, TrainingAdversary
from entrobust.device import resolve_device
from entrobust.models import get_model

SHAPES = {
    "cnn4": (1, 28),
    "tiny": (1, 8),
    "tiny-bn": (1, 8),
    "resnet18": (3, 32),
    "wrn34-10": (3, 32),
}
EPS, STEP, STEPS, BETA = 8 / 255, 2 / 255, 7, 3.0


def hand_pat(model, x, y, opt):
    """What a researcher writes: Madry PGD-AT with α = 0.5, attack in eval mode."""
    model.eval()
    x_adv = (x + torch.empty_like(x).uniform_(-EPS, EPS)).clamp(0, 1)
    for _ in range(STEPS):
        x_adv.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + STEP * g.sign(), x - EPS), x + EPS).clamp(0, 1)
    model.train()
    loss = 0.5 * F.cross_entropy(model(x), y) + 0.5 * F.cross_entropy(model(x_adv), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def reference_trades(model, x, y, opt):
    """TRADES' ``trades.py`` as published (recomputes f(x) in every inner step and outer loss)."""
    kl = torch.nn.KLDivLoss(reduction="sum")
    model.eval()
    x_adv = x.detach() + 0.001 * torch.randn_like(x)
    for _ in range(STEPS):
        x_adv.requires_grad_()
        with torch.enable_grad():
            loss_kl = kl(F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1))
        (g,) = torch.autograd.grad(loss_kl, [x_adv])
        x_adv = x_adv.detach() + STEP * torch.sign(g.detach())
        x_adv = torch.min(torch.max(x_adv, x - EPS), x + EPS).clamp(0.0, 1.0)
    model.train()
    x_adv = x_adv.clamp(0.0, 1.0).detach()
    opt.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, y) + BETA * (1.0 / len(x)) * kl(
        F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1)
    )
    loss.backward()
    opt.step()


def hand_trades(model, x, y, opt):
    """The reference without its redundant forwards (the fair hand-written floor)."""
    model.eval()
    with torch.no_grad():
        p = F.softmax(model(x), dim=1)
    x_adv = (x + 0.001 * torch.randn_like(x)).clamp(0, 1)
    for _ in range(STEPS):
        x_adv.requires_grad_(True)
        loss = F.kl_div(F.log_softmax(model(x_adv), dim=1), p, reduction="sum")
        (g,) = torch.autograd.grad(loss, x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + STEP * g.sign(), x - EPS), x + EPS).clamp(0, 1)
    model.train()
    logits = model(x)
    kl = F.kl_div(
        F.log_softmax(model(x_adv), dim=1), F.softmax(logits, dim=1), reduction="sum"
    ) / len(x)
    loss = F.cross_entropy(logits, y) + BETA * kl
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def ours(defense: Defense):
    def step(model, x, y, opt):
        loss = defense.step(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="cnn4", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", help="comma list of fp32,bf16")
    p.add_argument("--out", default=None, help="results name (default: training_steps_ARCH_DEVICE)")
    args = p.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    c, s = SHAPES[args.arch]
    model = get_model(
        args.arch, num_classes=10, in_channels=c, mean=(0.5,) * c, std=(0.25,) * c
    ).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    x = torch.rand(args.batch, c, s, s, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    adv = TrainingAdversary(EPS, STEP, STEPS)
    fast_adv = TrainingAdversary(EPS, 1.25 * EPS, 1)  # FGSM-RS, Wong et al.'s α = 1.25·ε
    variants = {
        "hand_pat": hand_pat,
        "pat": ours(Defense("pat", DefenseParams(adversary=adv))),
        "pat_entm": ours(Defense("pat-entm", DefenseParams(lam=2.0, adversary=adv))),
        "hand_trades": hand_trades,
        "reference_trades": reference_trades,
        "trades": ours(Defense("trades", DefenseParams(beta=BETA, adversary=adv))),
        "mart": ours(Defense("mart", DefenseParams(adversary=adv))),
        "mart_entm": ours(Defense("mart-entm", DefenseParams(lam=2.0, adversary=adv))),
        "fast": ours(Defense("fast", DefenseParams(adversary=fast_adv))),
        "fast_entm": ours(Defense("fast-entm", DefenseParams(lam=2.0, adversary=fast_adv))),
    }
    report: dict = {
        "arch": args.arch,
        "batch": args.batch,
        "device": str(device),
        "repeats": args.repeats,
        "results": {},
    }
    for precision in args.precision.split(","):
        ctx = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

        def run(fn, ctx=ctx):
            def call():
                with ctx:
                    fn(model, x, y, opt)

            return call

        times = interleaved_times(
            {k: run(v) for k, v in variants.items()}, device, args.repeats, args.warmup
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        mem = {k: peak_memory(run(v), device) for k, v in variants.items()}
        ratios = {  # median over rounds of the per-round ratio (robust to machine drift)
            "pat / hand_pat (goal <= 1.03)": paired_ratio(times, "pat", "hand_pat"),
            "pat_entm / pat (goal <= 1.02)": paired_ratio(times, "pat_entm", "pat"),
            "trades / hand_trades (goal <= 1.03)": paired_ratio(times, "trades", "hand_trades"),
            "trades / reference_trades": paired_ratio(times, "trades", "reference_trades"),
            "trades / pat (training cost)": paired_ratio(times, "trades", "pat"),
            "mart / pat (training cost)": paired_ratio(times, "mart", "pat"),
            "fast / pat (training cost)": paired_ratio(times, "fast", "pat"),
            "mart_entm / mart": paired_ratio(times, "mart_entm", "mart"),
            "fast_entm / fast": paired_ratio(times, "fast_entm", "fast"),
        }
        report["results"][precision] = {"median_seconds": med, "ratios": ratios, "memory": mem}
        print(f"[{args.arch}, batch {args.batch}, {device}, {precision}]")
        for k, v in med.items():
            print(f"  {k:<18} {1000 * v:9.2f} ms  peak {mem[k]}")
        for k, v in ratios.items():
            print(f"  {k:<38} {v:.3f}")
    name = args.out or f"training_steps_{args.arch}_{device.type}"
    print(f"saved {save(name, report)}")


if __name__ == "__main__":
    main()
