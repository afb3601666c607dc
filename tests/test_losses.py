"""Losses against independent NumPy/SciPy formulas and the paper's identities (Eqns. 7, 8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_softmax as np_log_softmax
from scipy.special import softmax as np_softmax
from scipy.stats import entropy as scipy_entropy

from entrobust.errors import InvalidValueError
from entrobust.losses import (
    ADPLoss,
    EntMLoss,
    LabelSmoothingLoss,
    TradesKLLoss,
    adp_loss,
    entm_loss,
    entropy,
    label_smoothing_loss,
    trades_kl_loss,
)

C = 10


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, C, generator=g, dtype=torch.float64) * 3, torch.randint(
        0, C, (16,), generator=g
    )


def np_ce(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np_log_softmax(logits, axis=1)[np.arange(len(y)), y]


def test_entropy_matches_scipy(batch):
    logits, _ = batch
    expected = scipy_entropy(np_softmax(logits.numpy(), axis=1), axis=1)
    np.testing.assert_allclose(entropy(logits).numpy(), expected, rtol=1e-10)


def test_entm_matches_independent_formula(batch):
    logits, y = batch
    p = np_softmax(logits.numpy(), axis=1)
    expected = np_ce(logits.numpy(), y.numpy()) - 2.0 * scipy_entropy(p, axis=1)
    got = entm_loss(logits, y, lam=2.0, reduction="none").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_entm_identity_eqn8(batch):
    """L_entm = CE + λ·KL(p‖u_C) − λ·log C."""
    logits, y = batch
    lam = 1.7
    p = np_softmax(logits.numpy(), axis=1)
    kl_p_u = scipy_entropy(p, np.full_like(p, 1 / C), axis=1)
    expected = np_ce(logits.numpy(), y.numpy()) + lam * kl_p_u - lam * math.log(C)
    np.testing.assert_allclose(entm_loss(logits, y, lam, "none").numpy(), expected, rtol=1e-9)


def test_ls_identity_eqn7(batch):
    """L_smooth = (1−γ)·CE + γ·KL(u_C‖p) + γ·log C."""
    logits, y = batch
    gamma = 0.74
    p = np_softmax(logits.numpy(), axis=1)
    kl_u_p = scipy_entropy(np.full_like(p, 1 / C), p, axis=1)
    expected = (1 - gamma) * np_ce(logits.numpy(), y.numpy()) + gamma * kl_u_p + gamma * math.log(C)
    got = label_smoothing_loss(logits, y, gamma, "none").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_ls_matches_paper_eqn6_target(batch):
    logits, y = batch
    gamma = 0.3
    onehot = F.one_hot(y, C).double()
    smooth = onehot - gamma * (onehot - 1 / C)
    expected = -(smooth * F.log_softmax(logits, 1)).sum(1)
    torch.testing.assert_close(label_smoothing_loss(logits, y, gamma, "none"), expected)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_zero_weight_is_cross_entropy(batch, reduction):
    logits, y = batch
    ce = F.cross_entropy(logits, y, reduction=reduction)
    torch.testing.assert_close(entm_loss(logits, y, 0.0, reduction), ce)
    torch.testing.assert_close(label_smoothing_loss(logits, y, 0.0, reduction), ce)
    torch.testing.assert_close(EntMLoss(0.0, reduction)(logits, y), ce)


def test_reductions_are_consistent(batch):
    logits, y = batch
    per = entm_loss(logits, y, 2.0, "none")
    assert per.shape == (16,)
    torch.testing.assert_close(entm_loss(logits, y, 2.0, "mean"), per.mean())
    torch.testing.assert_close(entm_loss(logits, y, 2.0, "sum"), per.sum())


def test_soft_targets_equal_hard_for_one_hot(batch):
    logits, y = batch
    onehot = F.one_hot(y, C).double()
    torch.testing.assert_close(entm_loss(logits, onehot, 2.0), entm_loss(logits, y, 2.0))
    torch.testing.assert_close(
        label_smoothing_loss(logits, onehot, 0.5), label_smoothing_loss(logits, y, 0.5)
    )


@pytest.mark.parametrize(
    "loss", [EntMLoss(2.0), LabelSmoothingLoss(0.74), torch.nn.CrossEntropyLoss()]
)
def test_gradient_finite_for_saturated_logits(loss):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-5e3, 5e3, 1e4]], requires_grad=True)
    value = loss(logits, torch.tensor([0, 2]))
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(logits.grad).all()


def test_entm_gradient_pushes_towards_uniform():
    """With λ large, the gradient of EntM lowers the top logit of a confident prediction."""
    logits = torch.tensor([[4.0, 0.0, 0.0]], requires_grad=True)
    entm_loss(logits, torch.tensor([1]), lam=10.0).backward()
    assert logits.grad[0, 0] > 0


def test_trades_kl_matches_reference_formula(batch):
    logits, _ = batch
    adv = logits + torch.randn_like(logits)
    p, q = np_softmax(logits.numpy(), 1), np_softmax(adv.numpy(), 1)
    per = scipy_entropy(p, q, axis=1)
    np.testing.assert_allclose(trades_kl_loss(adv, logits, "none").numpy(), per, rtol=1e-9)
    # The reference: KLDivLoss(size_average=False)(log_softmax(adv), softmax(nat)) / batch.
    ref = F.kl_div(F.log_softmax(adv, 1), F.softmax(logits, 1), reduction="sum") / len(adv)
    torch.testing.assert_close(TradesKLLoss()(adv, logits), ref)
    torch.testing.assert_close(trades_kl_loss(adv, logits, "sum"), ref * len(adv))


def np_adp(member_logits: list[np.ndarray], y: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Straight transcription of the ADP reference's Loss_withEE_DPP, per example."""
    probs = [np_softmax(z, axis=1) for z in member_logits]
    ce = sum(-np.log(p[np.arange(len(y)), y]) for p in probs)
    mean_p = sum(probs) / len(probs)
    ee = -(mean_p * np.log(mean_p + 1e-20)).sum(1)
    out = []
    for i, label in enumerate(y):
        rows = np.stack([np.delete(p[i], label) for p in probs])
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        out.append(np.linalg.slogdet(rows @ rows.T + 1e-6 * np.eye(len(probs)))[1])
    return ce - alpha * ee - beta * np.array(out)


def test_adp_matches_reference_transcription(batch):
    logits, y = batch
    g = torch.Generator().manual_seed(1)
    members = [
        logits + torch.randn(logits.shape, generator=g, dtype=torch.float64) for _ in range(3)
    ]
    expected = np_adp([m.numpy() for m in members], y.numpy(), 2.0, 0.5)
    np.testing.assert_allclose(adp_loss(members, y, reduction="none").numpy(), expected, rtol=1e-7)
    torch.testing.assert_close(ADPLoss()(members, y), torch.as_tensor(expected).mean())


def test_adp_without_regularizers_is_summed_ce(batch):
    logits, y = batch
    members = [logits, logits * 0.5, logits + 1]
    expected = sum(F.cross_entropy(m, y) for m in members)
    torch.testing.assert_close(adp_loss(members, y, alpha=0.0, beta=0.0), expected)


def test_adp_gradient_finite_for_identical_members():
    z = torch.randn(4, C, requires_grad=True)
    adp_loss([z, z, z], torch.tensor([0, 1, 2, 3])).backward()
    assert torch.isfinite(z.grad).all()


def test_bad_arguments_raise_clear_errors(batch):
    logits, y = batch
    with pytest.raises(InvalidValueError, match="reduction"):
        EntMLoss(reduction="average")
    with pytest.raises(InvalidValueError, match="γ"):
        LabelSmoothingLoss(gamma=1.5)
    with pytest.raises(InvalidValueError, match="at least 2"):
        adp_loss([logits], y)
