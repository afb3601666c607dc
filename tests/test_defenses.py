"""Defenses against independent transcriptions: TRADES' trades.py and Eqn. 5's PAT inner max."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from entrobust.defenses import Defense, DefenseParams, TrainingAdversary
from entrobust.losses import EntMLoss, LabelSmoothingLoss
from entrobust.training import make_config

EPS, STEP, STEPS = 8 / 255, 2 / 255, 5


def _bn_model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 8, 8, generator=g)
    x[:, :, :2] = 0.0  # pixels at the box edge: the reference's start leaves [0, 1] there
    return x, torch.randint(0, 10, (16,), generator=g)


def _trades_reference(model, x_natural, y, step_size, epsilon, perturb_steps, beta):
    """trades.py's ``trades_loss`` (yaodongyu/TRADES), transcribed; ``size_average=False`` is
    ``reduction="sum"`` and ``.cuda()`` is dropped."""
    criterion_kl = nn.KLDivLoss(reduction="sum")
    model.eval()
    batch_size = len(x_natural)
    x_adv = x_natural.detach() + 0.001 * torch.randn(x_natural.shape).detach()
    for _ in range(perturb_steps):
        x_adv.requires_grad_()
        with torch.enable_grad():
            loss_kl = criterion_kl(
                F.log_softmax(model(x_adv), dim=1), F.softmax(model(x_natural), dim=1)
            )
        grad = torch.autograd.grad(loss_kl, [x_adv])[0]
        x_adv = x_adv.detach() + step_size * torch.sign(grad.detach())
        x_adv = torch.min(torch.max(x_adv, x_natural - epsilon), x_natural + epsilon)
        x_adv = torch.clamp(x_adv, 0.0, 1.0)
    model.train()
    x_adv = torch.clamp(x_adv, 0.0, 1.0).detach()
    logits = model(x_natural)
    loss_natural = F.cross_entropy(logits, y)
    loss_robust = (1.0 / batch_size) * criterion_kl(
        F.log_softmax(model(x_adv), dim=1), F.softmax(model(x_natural), dim=1)
    )
    return loss_natural + beta * loss_robust


def _bn_stats(model: nn.Module) -> list[torch.Tensor]:
    bn = model[1]
    return [bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()]


def test_trades_matches_reference_loss_grads_and_batchnorm_statistics():
    x, y = _batch()
    ours, ref = _bn_model(), _bn_model()
    defense = Defense(
        "trades", DefenseParams(beta=6.0, adversary=TrainingAdversary(EPS, STEP, STEPS))
    )
    torch.manual_seed(11)
    ours.train()
    loss = defense.step(ours, x, y)
    loss.backward()
    torch.manual_seed(11)
    ref_loss = _trades_reference(ref, x, y, STEP, EPS, STEPS, beta=6.0)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-6)
    for a, b in zip(_bn_stats(ours), _bn_stats(ref), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert int(ours[1].num_batches_tracked) == 3  # three train-mode forwards, as trades.py
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-6)
    assert ours.training  # the caller's mode is kept


def test_trades_entm_swaps_only_the_natural_term():
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    a, b = _bn_model(), _bn_model()
    torch.manual_seed(5)
    plain = Defense("trades", DefenseParams(beta=3.0, adversary=adv)).step(a, x, y)
    torch.manual_seed(5)
    entm = Defense("trades-entm", DefenseParams(lam=2.0, beta=3.0, adversary=adv)).step(b, x, y)
    with torch.no_grad():
        b.train()
        logits = b(x)
        p = F.softmax(logits, 1)
        entropy = -(p * F.log_softmax(logits, 1)).sum(1).mean()
    # BN statistics moved the same way in both models, so the logits are equal: EntM = CE − λ·H
    torch.testing.assert_close(entm, plain - 2.0 * entropy, rtol=0, atol=1e-5)


def _manual_pat(model, x, y, objective, inner_loss, alpha=0.5):
    """Eqn. 5 by hand: uniform start in the ball, ``STEPS`` sign steps ascending
    ``inner_loss`` in eval mode, then ``α·L(x) + (1−α)·L(x_adv)`` in train mode."""
    model.eval()
    x_adv = (x + torch.empty_like(x).uniform_(-EPS, EPS)).clamp(x - EPS, x + EPS).clamp(0, 1)
    for _ in range(STEPS):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(inner_loss(model(x_adv), y), x_adv)
        x_adv = x_adv.detach() + STEP * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - EPS), x + EPS).clamp(0, 1)
    model.train()
    return alpha * objective(model(x), y) + (1 - alpha) * objective(model(x_adv), y)


@pytest.mark.parametrize(
    "name, objective",
    [("pat-entm", EntMLoss(lam=2.0)), ("pat-ls", LabelSmoothingLoss(gamma=0.5))],
)
@pytest.mark.parametrize("inner", ["objective", "ce"])
def test_pat_inner_max_follows_eqn5_by_default(name, objective, inner):
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    params = DefenseParams(lam=2.0, gamma=0.5, adversary=adv, inner=inner)
    ours, ref = _bn_model(), _bn_model()
    ours.train()
    torch.manual_seed(7)
    loss = Defense(name, params).step(ours, x, y)
    torch.manual_seed(7)
    expected = _manual_pat(
        ref, x, y, objective, objective if inner == "objective" else F.cross_entropy
    )
    torch.testing.assert_close(loss, expected, rtol=0, atol=1e-6)


def test_the_two_inner_readings_differ_for_entm_and_default_is_eqn5():
    assert DefenseParams().inner == "objective"
    assert make_config("digits", "pat-entm", profile="ci").inner == "objective"
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    losses = []
    for inner in ("objective", "ce"):
        model = _bn_model()
        torch.manual_seed(7)
        losses.append(
            Defense("pat-entm", DefenseParams(adversary=adv, inner=inner)).step(model, x, y)
        )
    assert abs(losses[0].item() - losses[1].item()) > 1e-6


def test_pat_with_ce_has_one_reading():
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    out = []
    for inner in ("objective", "ce"):
        model = copy.deepcopy(_bn_model())
        torch.manual_seed(1)
        out.append(Defense("pat", DefenseParams(adversary=adv, inner=inner)).step(model, x, y))
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)


@pytest.mark.parametrize("inner, says", [(None, "own objective (Eqn. 5)"), ("ce", "cross-entropy")])
def test_train_cli_says_and_saves_the_inner_reading(tmp_path, capsys, inner, says):
    import json

    from entrobust.cli.main import main

    argv = ["train", "--dataset", "digits", "--defense", "pat-entm", "--profile", "ci"]
    argv += ["--epochs", "1", "--train-size", "100", "--test-size", "50", "--no-progress"]
    argv += ["--runs-dir", str(tmp_path), "--device", "cpu"] + (["--inner", inner] if inner else [])
    assert main(argv) == 0
    assert says in capsys.readouterr().out
    (config,) = tmp_path.glob("*/config.json")
    assert json.loads(config.read_text())["inner"] == (inner or "objective")


# --- trainer records ------------------------------------------------------------------------


def test_every_defense_has_a_registered_trainer_and_its_record_answers_for_it():
    from entrobust.defenses import (
        ADVERSARIAL_TRAINERS,
        DEFENSES,
        TRAINERS,
        proxy_defense,
        trainer_of,
    )

    assert set(TRAINERS) == {trainer for trainer, _ in DEFENSES.values()}
    assert set(ADVERSARIAL_TRAINERS) == {"pat", "trades", "mart", "fast"}
    assert [t for t in TRAINERS if TRAINERS[t].ensemble] == ["adp"]
    for name in DEFENSES:
        record = trainer_of(name)
        assert record.adversarial == ("adversary" in record.reads)
        # the paper's proxy rule, as the name prefixes used to decide it
        assert proxy_defense(name) == record.proxy
        assert record.proxy == (
            "pat" if name.startswith(("pat", "trades", "mart", "fast")) else "normal"
        )
        assert record.evaluated_under("cw40-8") == (name != "adp")
        assert record.evaluated_under("pgd10-8")


def test_trainer_record_steps_match_the_step_functions():
    from entrobust.defenses import TRADES_BETA, trades_step

    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    adv = TrainingAdversary(eps=8 / 255, step_size=2 / 255, steps=2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    torch.manual_seed(0)
    got = Defense("trades", DefenseParams(adversary=adv)).step(model, x, y)
    torch.manual_seed(0)
    want = trades_step(model, x, y, nn.CrossEntropyLoss(), adv, beta=TRADES_BETA)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
