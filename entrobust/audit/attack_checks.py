"""(a)–(e), (g) Attack-based checks (Athalye et al. 2018 §3.1; Carlini et al. 2019 §5).

Each compares two attacks on the same test points; in a sound evaluation the stronger attack
never does worse. They share the cached runs of a :class:`~entrobust.audit.probe.Probe`.
"""

from __future__ import annotations

from torch import nn

from entrobust.attacks import AdaptiveSmoothedPGD, RandomSearch, TransferAttack, fgsm
from entrobust.audit.probe import Probe
from entrobust.audit.registry import Check, register_check
from entrobust.audit.result import CheckResult
from entrobust.audit.thresholds import (
    ADAPTIVE_SLACK,
    CONVERGENCE_MAX_DROP,
    CONVERGENCE_MAX_RISE,
    CONVERGENCE_STEPS,
    FGSM_SLACK,
    LARGE_EPS_KS,
    LARGE_EPS_SLACK,
    LARGE_EPS_STEPS,
    RANDOM_SEARCH_MAX_BREAK_RATE,
    WHITE_BOX_SLACK,
)

PGD_STEPS = CONVERGENCE_STEPS[0]


def _k(probe: Probe) -> str:
    return f"{probe.settings.eps * 255:.4g}/255"


def _pct(a: float) -> str:
    return f"{100 * a:.2f}%"


def check_white_vs_black(probe: Probe, proxy: nn.Module | None) -> CheckResult:
    """(a) White-box PGD must not do worse than the same PGD transferred from a proxy."""
    title = "(a) white-box accuracy ≤ black-box (transfer) accuracy"
    rule = f"fail if white-box accuracy > black-box accuracy + {100 * WHITE_BOX_SLACK:g} pp"
    if proxy is None:
        return CheckResult(
            "white-vs-black-box", title, "skip", "no proxy model given (--proxy)", rule=rule
        )
    white = probe.accuracy(probe.pgd(PGD_STEPS))
    transfer = TransferAttack(proxy, probe.pgd_attack(PGD_STEPS))
    black = probe.accuracy(probe.run(f"transfer-pgd{PGD_STEPS}", transfer))
    bad = white > black + WHITE_BOX_SLACK
    return CheckResult(
        "white-vs-black-box",
        title,
        "fail" if bad else "pass",
        f"PGD{PGD_STEPS} at ε = {_k(probe)}: white-box {_pct(white)}, black-box {_pct(black)}"
        + ("; the model's own gradients are less useful than a proxy's: masking" if bad else ""),
        {"white_box_accuracy": white, "black_box_accuracy": black},
        rule,
    )


register_check(
    Check(
        "white-vs-black-box",
        lambda c: check_white_vs_black(c.probe, c.proxy),
        "white-box PGD does worse than PGD transferred from a proxy",
        order=3,
    )
)


def check_random_search(probe: Probe) -> CheckResult:
    """(b) Random search must not break (more than a sliver of) the points PGD left robust."""
    survivors = probe.robust(probe.pgd(PGD_STEPS)).nonzero().squeeze(1)
    n = int(survivors.numel())
    breaks = 0
    if n:
        search = RandomSearch(probe.settings.eps, probe.settings.samples)
        x_rs = probe.run("random-search", search, probe.x[survivors], probe.y[survivors])
        breaks = int((~probe.correct(x_rs, survivors)).sum())
    rate = breaks / n if n else 0.0
    bad = rate > RANDOM_SEARCH_MAX_BREAK_RATE
    return CheckResult(
        "random-search",
        "(b) random search does not break points that PGD left robust",
        "fail" if bad else "pass",
        f"{breaks} of {n} PGD{PGD_STEPS} survivors broken by {probe.settings.samples} random "
        f"corners of the ε = {_k(probe)} ball ({100 * rate:.1f}%)"
        + ("; gradient-free search beats PGD: masking" if bad else ""),
        {
            "pgd_survivors": n,
            "random_breaks": breaks,
            "break_rate": rate,
            "samples": probe.settings.samples,
        },
        f"fail if more than {100 * RANDOM_SEARCH_MAX_BREAK_RATE:g}% of survivors are broken",
    )


register_check(
    Check(
        "random-search",
        lambda c: check_random_search(c.probe),
        "random search breaks points that PGD left robust",
        order=4,
    )
)


def check_large_eps(probe: Probe, num_classes: int) -> CheckResult:
    """(c) Accuracy must fall to random guessing as ε grows large (ε = 128/255, 255/255)."""
    bound = 1 / num_classes + LARGE_EPS_SLACK
    accs = {}
    for k in LARGE_EPS_KS:
        eps = k / 255
        attack = probe.pgd_attack(LARGE_EPS_STEPS, eps, 2.5 * eps / LARGE_EPS_STEPS)
        accs[k] = probe.accuracy(probe.run(f"large-eps-{k}", attack))
    bad = max(accs.values()) > bound
    shown = ", ".join(f"ε = {k}/255: {_pct(a)}" for k, a in accs.items())
    return CheckResult(
        "large-eps",
        "(c) accuracy reaches random guessing under very large perturbations",
        "fail" if bad else "pass",
        f"PGD{LARGE_EPS_STEPS}: {shown} (bound {_pct(bound)})"
        + ("; unbounded attacks should always succeed: masking" if bad else ""),
        {**{f"accuracy_eps_{k}": a for k, a in accs.items()}, "bound": bound},
        f"fail if any accuracy > 1/C + {100 * LARGE_EPS_SLACK:g} pp (C = {num_classes})",
    )


register_check(
    Check(
        "large-eps",
        lambda c: check_large_eps(c.probe, c.num_classes),
        "accuracy stays above random guessing at ε = 128/255 and 255/255",
        order=5,
    )
)


def check_convergence(probe: Probe) -> CheckResult:
    """(d) Accuracy converges with more PGD steps and never rises with them."""
    accs = {n: probe.accuracy(probe.pgd(n)) for n in CONVERGENCE_STEPS}
    steps = list(accs)
    rises = [
        (a, b)
        for i, a in enumerate(steps)
        for b in steps[i + 1 :]
        if accs[b] > accs[a] + CONVERGENCE_MAX_RISE
    ]
    drop = accs[steps[-2]] - accs[steps[-1]]
    problems = []
    if rises:
        problems.append(f"more steps raise accuracy (PGD{rises[0][0]} → PGD{rises[0][1]})")
    if drop > CONVERGENCE_MAX_DROP:
        problems.append(
            f"PGD{steps[-2]} → PGD{steps[-1]} still lowers accuracy by {100 * drop:.1f} pp"
        )
    shown = " → ".join(f"PGD{n} {_pct(a)}" for n, a in accs.items())
    return CheckResult(
        "convergence",
        "(d) robust accuracy converges as PGD steps grow",
        "fail" if problems else "pass",
        f"ε = {_k(probe)}, step ε/10: {shown}" + (f"; {'; '.join(problems)}" if problems else ""),
        {**{f"accuracy_pgd{n}": a for n, a in accs.items()}, "last_drop": drop},
        f"fail if PGD{steps[-2]} → PGD{steps[-1]} drops by > {100 * CONVERGENCE_MAX_DROP:g} "
        f"pp or more steps raise accuracy by > {100 * CONVERGENCE_MAX_RISE:g} pp",
    )


register_check(
    Check(
        "convergence",
        lambda c: check_convergence(c.probe),
        "more PGD steps keep lowering accuracy a lot, or raise it",
        order=6,
    )
)


def check_fgsm_vs_pgd(probe: Probe) -> CheckResult:
    """(e) Single-step FGSM must not beat iterative PGD at the same ε."""
    f = probe.accuracy(probe.run("fgsm", fgsm(probe.settings.eps)))
    p = probe.accuracy(probe.pgd(PGD_STEPS))
    bad = f < p - FGSM_SLACK
    return CheckResult(
        "fgsm-vs-pgd",
        "(e) FGSM accuracy ≥ PGD accuracy at the same ε",
        "fail" if bad else "pass",
        f"ε = {_k(probe)}: FGSM {_pct(f)}, PGD{PGD_STEPS} {_pct(p)}"
        + ("; one step beats many: the iterative attack gets stuck (masking)" if bad else ""),
        {"fgsm_accuracy": f, "pgd_accuracy": p},
        f"fail if FGSM accuracy < PGD accuracy − {100 * FGSM_SLACK:g} pp",
    )


register_check(
    Check(
        "fgsm-vs-pgd",
        lambda c: check_fgsm_vs_pgd(c.probe),
        "single-step FGSM beats multi-step PGD",
        order=7,
    )
)


def check_adaptive_loss(probe: Probe) -> CheckResult:
    """(g) CE-PGD is not much weaker than the smoothed-label adaptive attack (paper Fig. 2)."""
    s = probe.settings
    adaptive = AdaptiveSmoothedPGD(
        s.eps, PGD_STEPS, restarts=s.restarts, init="normal", init_std=s.init_std
    )
    a = probe.accuracy(probe.run(f"adaptive{PGD_STEPS}", adaptive))
    p = probe.accuracy(probe.pgd(PGD_STEPS))
    weak = a < p - ADAPTIVE_SLACK
    return CheckResult(
        "adaptive-loss",
        "(g) the CE objective is as strong as the smoothed-label adaptive attack",
        "warn" if weak else "pass",
        f"ε = {_k(probe)}: PGD{PGD_STEPS} (CE) {_pct(p)}, adaptive PGD{PGD_STEPS} (worst case "
        f"over γ) {_pct(a)}"
        + ("; CE understates the attack on this model: report the adaptive number" if weak else ""),
        {"pgd_accuracy": p, "adaptive_accuracy": a},
        f"warn if adaptive accuracy < CE-PGD accuracy − {100 * ADAPTIVE_SLACK:g} pp",
    )


register_check(
    Check(
        "adaptive-loss",
        lambda c: check_adaptive_loss(c.probe),
        "(warns) the smoothed-label adaptive attack does much better than CE-PGD",
        order=8,
    )
)


__all__ = [
    "PGD_STEPS",
    "check_adaptive_loss",
    "check_convergence",
    "check_fgsm_vs_pgd",
    "check_large_eps",
    "check_random_search",
    "check_white_vs_black",
]
