"""MART and fast AT against transcriptions of their references' loss functions, and their
EntM/LS variants (registry, λ = 0, gradients, modes, budget)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Variable

from entrobust.defenses import (
    DEFENSES,
    Defense,
    DefenseParams,
    TrainingAdversary,
    list_defenses,
    proxy_defense,
)
from entrobust.defenses.fast import fast_adversary
from entrobust.defenses.mart import mart_adversary
from entrobust.errors import InvalidValueError
from entrobust.losses import EntMLoss, LabelSmoothingLoss
from entrobust.training import make_config

EPS, STEP, STEPS = 8 / 255, 2 / 255, 5
NEW = ("mart", "mart-entm", "mart-ls", "fast", "fast-entm", "fast-ls")


def _bn_model() -> nn.Module:
    """The same small BN model every call, without touching the global random stream."""
    with torch.random.fork_rng():
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
    x[:, :, :2] = 0.0  # pixels at the box edge (digits' background)
    x[:, :, -1] = 1.0
    return x, torch.randint(0, 10, (16,), generator=g)


def _bn_stats(model: nn.Module) -> list[torch.Tensor]:
    bn = model[1]
    return [bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()]


def _assert_same_model_state(ours: nn.Module, ref: nn.Module) -> None:
    for a, b in zip(_bn_stats(ours), _bn_stats(ref), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-6)


# --- MART -----------------------------------------------------------------------------------


def _mart_reference(
    model,
    x_natural,
    y,
    optimizer,
    step_size=0.007,
    epsilon=0.031,
    perturb_steps=10,
    beta=6.0,
    distance="l_inf",
):
    """``mart_loss`` of YisenWang/MART ``mart.py`` (commit 2d83e17), transcribed verbatim;
    only ``.cuda()`` is dropped."""
    kl = nn.KLDivLoss(reduction="none")
    model.eval()
    batch_size = len(x_natural)
    # generate adversarial example
    x_adv = x_natural.detach() + 0.001 * torch.randn(x_natural.shape).detach()
    if distance == "l_inf":
        for _ in range(perturb_steps):
            x_adv.requires_grad_()
            with torch.enable_grad():
                loss_ce = F.cross_entropy(model(x_adv), y)
            grad = torch.autograd.grad(loss_ce, [x_adv])[0]
            x_adv = x_adv.detach() + step_size * torch.sign(grad.detach())
            x_adv = torch.min(torch.max(x_adv, x_natural - epsilon), x_natural + epsilon)
            x_adv = torch.clamp(x_adv, 0.0, 1.0)
    else:
        x_adv = torch.clamp(x_adv, 0.0, 1.0)
    model.train()

    x_adv = Variable(torch.clamp(x_adv, 0.0, 1.0), requires_grad=False)
    # zero gradient
    optimizer.zero_grad()

    logits = model(x_natural)

    logits_adv = model(x_adv)

    adv_probs = F.softmax(logits_adv, dim=1)

    tmp1 = torch.argsort(adv_probs, dim=1)[:, -2:]

    new_y = torch.where(tmp1[:, -1] == y, tmp1[:, -2], tmp1[:, -1])

    loss_adv = F.cross_entropy(logits_adv, y) + F.nll_loss(
        torch.log(1.0001 - adv_probs + 1e-12), new_y
    )

    nat_probs = F.softmax(logits, dim=1)

    true_probs = torch.gather(nat_probs, 1, (y.unsqueeze(1)).long()).squeeze()

    loss_robust = (1.0 / batch_size) * torch.sum(
        torch.sum(kl(torch.log(adv_probs + 1e-12), nat_probs), dim=1) * (1.0000001 - true_probs)
    )
    loss = loss_adv + float(beta) * loss_robust

    return loss


@pytest.mark.parametrize("inner", ["objective", "ce"])
def test_mart_matches_reference_loss_grads_and_batchnorm_statistics(inner):
    x, y = _batch()
    ours, ref = _bn_model(), _bn_model()
    defense = Defense(
        "mart", DefenseParams(adversary=TrainingAdversary(EPS, STEP, STEPS), inner=inner)
    )
    torch.manual_seed(11)
    ours.train()
    loss = defense.step(ours, x, y)
    loss.backward()
    torch.manual_seed(11)
    optimizer = torch.optim.SGD(ref.parameters(), lr=0.1)
    ref_loss = _mart_reference(ref, x, y, optimizer, STEP, EPS, STEPS, beta=6.0)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-6)
    _assert_same_model_state(ours, ref)
    assert int(ours[1].num_batches_tracked) == 2  # clean then adversarial, in train mode
    assert ours.training


def test_mart_entm_and_ls_swap_only_the_ce_term():
    """MART-EntM = MART − λ·mean H(p_adv); MART-LS = MART − CE(adv) + LS(adv), with the same
    adversarial examples (CE inner max) and the same BN statistics."""
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    losses = {}
    for name in ("mart", "mart-entm", "mart-ls"):
        model = _bn_model().train()
        torch.manual_seed(5)
        params = DefenseParams(lam=2.0, gamma=0.5, adversary=adv, inner="ce")
        losses[name] = Defense(name, params).step(model, x, y)
    model = _bn_model()
    torch.manual_seed(5)
    x_adv = mart_adversary(model, x, y, F.cross_entropy, adv, inner="ce")
    ref = _bn_model().train()
    ref(x)  # the clean pass moves BN statistics first, as in the step
    with torch.no_grad():
        logits_adv = ref(x_adv)
    log_p = F.log_softmax(logits_adv, 1)
    entropy = -(log_p.exp() * log_p).sum(1).mean()
    ce = F.cross_entropy(logits_adv, y)
    ls = LabelSmoothingLoss(gamma=0.5)(logits_adv, y)
    torch.testing.assert_close(
        losses["mart-entm"], losses["mart"] - 2.0 * entropy, atol=1e-5, rtol=0
    )
    torch.testing.assert_close(losses["mart-ls"], losses["mart"] - ce + ls, atol=1e-5, rtol=0)


def test_mart_beta_defaults_to_six_and_trades_stays_three():
    assert make_config("digits", "mart", profile="ci").beta == 6.0
    assert make_config("digits", "mart-entm", profile="ci").beta == 6.0
    assert make_config("digits", "trades", profile="ci").beta == 3.0
    assert make_config("digits", "mart", profile="ci", beta=2.0).beta == 2.0
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    out = []
    for beta in (None, 6.0):
        torch.manual_seed(2)
        out.append(Defense("mart", DefenseParams(beta=beta, adversary=adv)).step(_bn_model(), x, y))
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)


# --- fast AT --------------------------------------------------------------------------------


def _clamp(X, lower_limit, upper_limit):
    """``clamp`` of locuslab/fast_adversarial ``CIFAR10/utils.py``, verbatim."""
    return torch.max(torch.min(X, upper_limit), lower_limit)


def _fast_reference(model, X, y, epsilon, alpha, lower_limit, upper_limit):
    """One batch of locuslab/fast_adversarial ``CIFAR10/train_fgsm.py`` (commit of the
    ``--delta-init random`` default), transcribed verbatim up to the training loss: images in
    [0, 1] (μ = 0, σ = 1, so ``epsilon``/``alpha`` are per-channel ``(C, 1, 1)`` pixel
    fractions); ``amp.scale_loss`` becomes ``backward()``; ``.cuda()`` is dropped."""
    criterion = nn.CrossEntropyLoss()
    delta = torch.zeros_like(X)
    for j in range(len(epsilon)):
        delta[:, j, :, :].uniform_(-epsilon[j][0][0].item(), epsilon[j][0][0].item())
    delta.data = _clamp(delta, lower_limit - X, upper_limit - X)
    delta.requires_grad = True
    output = model(X + delta[: X.size(0)])
    loss = F.cross_entropy(output, y)
    loss.backward()
    grad = delta.grad.detach()
    delta.data = _clamp(delta + alpha * torch.sign(grad), -epsilon, epsilon)
    delta.data[: X.size(0)] = _clamp(delta[: X.size(0)], lower_limit - X, upper_limit - X)
    delta = delta.detach()
    output = model(X + delta[: X.size(0)])
    loss = criterion(output, y)
    for p in model.parameters():  # opt.zero_grad() before the training backward
        p.grad = None
    return loss


@pytest.mark.parametrize("inner", ["objective", "ce"])
def test_fast_matches_reference_loss_grads_and_batchnorm_statistics(inner):
    x, y = _batch()
    ours, ref = _bn_model().train(), _bn_model().train()
    cfg = make_config("digits", "fast", profile="ci", at_eps=EPS, inner=inner)
    assert cfg.at_steps == 1 and cfg.at_step == pytest.approx(1.25 * EPS)
    torch.manual_seed(11)
    loss = cfg.defense_obj().step(ours, x, y)
    loss.backward()
    torch.manual_seed(11)
    one = torch.ones(1, 1, 1)
    ref_loss = _fast_reference(ref, x, y, EPS * one, 10 / 255 * one, 0 * one, one)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-6)
    _assert_same_model_state(ours, ref)
    assert int(ours[1].num_batches_tracked) == 2  # the attack's pass is a train-mode pass too
    assert ours.training


def test_fast_entm_and_ls_are_the_objective_on_the_same_point():
    x, y = _batch()
    adv = TrainingAdversary(EPS, 1.25 * EPS, 1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))  # no BN: modes do not matter
    torch.manual_seed(4)
    x_adv = fast_adversary(model, x, y, F.cross_entropy, adv, inner="ce")
    for name, objective in (("fast-entm", EntMLoss(lam=2.0)), ("fast-ls", LabelSmoothingLoss(0.5))):
        torch.manual_seed(4)
        params = DefenseParams(lam=2.0, gamma=0.5, adversary=adv, inner="ce")
        loss = Defense(name, params).step(model, x, y)
        torch.testing.assert_close(loss, objective(model(x_adv), y), rtol=0, atol=1e-6)


# --- properties of all six ------------------------------------------------------------------


def test_registry_names_and_trainers():
    for name in NEW:
        assert name in list_defenses()
        trainer, objective = DEFENSES.get(name)
        assert trainer == name.split("-")[0]
        assert objective == (name.split("-")[1] if "-" in name else "ce")
        adv = TrainingAdversary(EPS, STEP, STEPS)
        assert Defense(name, DefenseParams(gamma=0.5, adversary=adv)).uses_adversarial_training
        assert proxy_defense(name) == "pat"
    with pytest.raises(InvalidValueError, match="needs a training adversary"):
        Defense("fast", DefenseParams())


@pytest.mark.parametrize("trainer", ["mart", "fast"])
def test_entm_with_zero_lambda_is_the_plain_defense(trainer):
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    out = []
    for name in (trainer, f"{trainer}-entm"):
        torch.manual_seed(9)
        out.append(
            Defense(name, DefenseParams(lam=0.0, adversary=adv)).step(_bn_model().train(), x, y)
        )
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradient_flows_and_mode_is_restored(name, mode):
    x, y = _batch()
    model = _bn_model()
    model.train(mode == "train")
    model[1].train(mode != "train")  # mixed modes come back exactly as they were
    before = [m.training for m in model.modules()]
    loss = Defense(name, DefenseParams(gamma=0.5, adversary=TrainingAdversary(EPS, STEP, 2))).step(
        model, x, y
    )
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert [m.training for m in model.modules()] == before
    for p in model.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("make_adv", [mart_adversary, fast_adversary])
@pytest.mark.parametrize("inner, objective", [("ce", None), ("objective", EntMLoss(lam=2.0))])
def test_adversarial_examples_stay_in_the_ball_and_the_box(make_adv, inner, objective):
    x, y = _batch()
    adv = TrainingAdversary(EPS, 1.25 * EPS, 3)
    x_adv = make_adv(_bn_model().train(), x, y, objective, adv, inner=inner)
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert not x_adv.requires_grad
    assert (x_adv - x).abs().max() > EPS / 2  # it moved


def test_unknown_inner_loss_is_a_clear_error():
    x, y = _batch()
    for name in ("mart", "fast"):
        defense = Defense(
            name, DefenseParams(adversary=TrainingAdversary(EPS, STEP, 1), inner="kl")
        )
        with pytest.raises(InvalidValueError, match="unknown inner loss 'kl'"):
            defense.step(_bn_model(), x, y)


def test_new_defenses_default_to_the_objective_inner_max():
    for name in NEW:
        assert make_config("digits", name, profile="ci").inner == "objective"
    x, y = _batch()
    adv = TrainingAdversary(EPS, STEP, STEPS)
    for name in ("mart-entm", "fast-entm"):
        losses = []
        for inner in ("objective", "ce"):
            torch.manual_seed(7)
            params = DefenseParams(adversary=adv, inner=inner)
            losses.append(Defense(name, params).step(_bn_model().train(), x, y).item())
        assert abs(losses[0] - losses[1]) > 1e-6, name
