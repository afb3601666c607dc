"""External attack libraries behind our protocol, cross-checked against our PGD.

One tiny model trained on the embedded digits data (through the real runner) is shared by the
module; the BatchNorm variant (``tiny-bn``) checks that every library runs the model in eval
mode and gives it back as it was.
"""

from __future__ import annotations

import math

import pytest
import torch
import torchattacks
from torch import Tensor, nn

from entrobust.attacks.art_pgd import ARTPGD
from entrobust.attacks.autoattack import AutoAttack, AutoAttackWarning, TorchattacksAutoAttack
from entrobust.attacks.base import Attack
from entrobust.attacks.min_l2 import MinimalL2, minimal_l2_distortion
from entrobust.attacks.pgd_attack import PGDAttack
from entrobust.attacks.torchattacks_adapter import TorchattacksAttack, as_attack
from entrobust.data import load_dataset
from entrobust.errors import InvalidValueError
from entrobust.tensors import as_float_images
from entrobust.training import make_config, train

EPS = 16 / 255


def _train(tmp_path_factory: pytest.TempPathFactory, arch: str | None = None) -> nn.Module:
    extra = {} if arch is None else {"arch": arch}
    cfg = make_config(
        "digits", "normal", profile="ci", epochs=3, train_size=500, test_size=200, **extra
    )
    threads = torch.get_num_threads()  # conftest's one-thread fixture is per test, not module
    torch.set_num_threads(1)  # (two threads on two busy cores are ~100x slower here)
    try:
        run = train(cfg, runs_dir=tmp_path_factory.mktemp("runs"), progress=False, device="cpu")
    finally:
        torch.set_num_threads(threads)
    return run.model.eval()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> nn.Module:
    return _train(tmp_path_factory)


@pytest.fixture(scope="module")
def bn_model(tmp_path_factory: pytest.TempPathFactory) -> nn.Module:
    return _train(tmp_path_factory, "tiny-bn")


@pytest.fixture(scope="module")
def data() -> tuple[Tensor, Tensor]:
    d = load_dataset("digits", train_size=500, test_size=200)
    return as_float_images(d.x_test), d.y_test


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def assert_in_budget(x_adv: Tensor, x: Tensor, eps: float) -> None:
    assert x_adv.shape == x.shape and x_adv.device == x.device
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() <= eps + 1e-6


class ModeSpy:
    """Records the ``training`` flag of every BatchNorm at every forward pass of a model."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.seen: list[bool] = []
        self.handle = model.register_forward_pre_hook(self._hook)

    def _hook(self, module: nn.Module, args: object) -> None:
        self.seen.extend(
            m.training for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        )

    def remove(self) -> None:
        self.handle.remove()


def check_mode_and_grads(attack: Attack, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Run ``attack`` on a model in mixed train/eval mode holding gradients; check both survive."""
    model.train()
    next(m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)).eval()
    modes = [m.training for m in model.modules()]
    grads = [torch.full_like(p, 0.5) for p in model.parameters()]
    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g
    spy = ModeSpy(model)
    try:
        x_adv = attack(model, x, y)
        modes_after = [m.training for m in model.modules()]
    finally:
        spy.remove()
        model.eval()
    assert spy.seen and not any(spy.seen), "the attack ran BatchNorm in train mode"
    assert modes_after == modes, "the model's modes were not restored"
    for p, g in zip(model.parameters(), grads, strict=True):
        assert p.grad is g and bool((g == 0.5).all()), "the attack touched parameter gradients"
        p.grad = None
    return x_adv


# --- our PGD against torchattacks' -------------------------------------------------------------


def test_pgd_matches_torchattacks_bit_for_bit_on_dyadic_inputs(model, data):
    # Pixels on the 1/256 grid, ε = 1/16 and step 1/128: every iterate is a multiple of 2⁻⁸, so
    # both projections — ours clamps x' into [x − ε, x + ε], torchattacks computes
    # x + clamp(x' − x, −ε, ε) — are exact and must agree to the bit. Their losses differ only by
    # a factor 1/N (mean vs sum), which leaves the gradient signs unchanged.
    x, y = data
    x = torch.round(x * 256) / 256
    eps, step, steps = 1 / 16, 1 / 128, 10
    ours = PGDAttack(eps, steps, step, init="none", restarts=1)(model, x, y)
    theirs = torchattacks.PGD(model, eps=eps, alpha=step, steps=steps, random_start=False)(x, y)
    assert torch.equal(ours, theirs)
    assert accuracy(model, ours, y) < accuracy(model, x, y)


def test_pgd_matches_torchattacks_on_digits(model, data):
    # With ε = 16/255 and step ε/10 the iterates are not representable exactly:
    # (x' − x) + x may differ from x' by one rounding, so we allow 1e-7 (observed ≤ 1e-9) and
    # require identical predictions.
    x, y = data
    ours = PGDAttack(EPS, 10, init="none", restarts=1)(model, x, y)
    theirs = torchattacks.PGD(model, eps=EPS, alpha=EPS / 10, steps=10, random_start=False)(x, y)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-7)
    with torch.no_grad():
        assert torch.equal(model(ours).argmax(1), model(theirs).argmax(1))


# --- ART ---------------------------------------------------------------------------------------


def test_art_pgd_agrees_with_ours(model, data):
    x, y = data
    ours = accuracy(model, PGDAttack(EPS, 10, init="none", restarts=1)(model, x, y), y)
    art_adv = ARTPGD(EPS, 10, restarts=0)(model, x, y)
    assert_in_budget(art_adv, x, EPS)
    art = accuracy(model, art_adv, y)
    assert abs(art - ours) <= 0.01, (art, ours)
    assert art < accuracy(model, x, y)


def test_art_pgd_runs_in_eval_mode_and_restores(bn_model, data):
    x, y = data[0][:64], data[1][:64]
    atk = ARTPGD(EPS, 3)
    x_adv = check_mode_and_grads(atk, bn_model, x, y)
    assert_in_budget(x_adv, x, EPS)
    assert atk.name == "art-pgd3-16"


# --- AutoAttack --------------------------------------------------------------------------------


def test_autoattack_apgd_at_least_as_strong_as_pgd(model, data):
    x, y = data[0][:32], data[1][:32]
    atk = AutoAttack(EPS, attacks=["apgd-ce", "apgd-t"])
    x_adv = atk(model, x, y)
    assert_in_budget(x_adv, x, EPS)
    ours = accuracy(model, PGDAttack(EPS, 20, init="none")(model, x, y), y)
    assert accuracy(model, x_adv, y) <= ours + 1 / 32


def test_autoattack_standard_budget_mode_grads(bn_model, data):
    # The standard version end to end, at an ε where APGD-CE already fools every point (so the
    # 5000-query Square is skipped and the test stays fast); the full chain at 16/255 is the
    # slow test below.
    x, y = data[0][:16], data[1][:16]
    atk = AutoAttack(48 / 255)
    assert atk.name == "autoattack-48"
    rng = torch.get_rng_state()
    x_adv = check_mode_and_grads(atk, bn_model, x, y)
    assert torch.equal(torch.get_rng_state(), rng)  # the library's reseeding is undone
    assert_in_budget(x_adv, x, 48 / 255)
    ours = accuracy(bn_model, PGDAttack(48 / 255, 20, init="none")(bn_model, x, y), y)
    assert accuracy(bn_model, x_adv, y) <= ours


@pytest.mark.slow
def test_autoattack_standard_full_chain(bn_model, data):
    x, y = data[0][:16], data[1][:16]
    x_adv = check_mode_and_grads(AutoAttack(EPS), bn_model, x, y)
    assert_in_budget(x_adv, x, EPS)
    ours = accuracy(bn_model, PGDAttack(EPS, 20, init="none")(bn_model, x, y), y)
    assert accuracy(bn_model, x_adv, y) <= ours + 1 / 16


def test_autoattack_sanity_checks_become_warnings():
    # A model returning probabilities: pyautoattack's check logs it; we re-raise it as a warning.
    torch.manual_seed(0)
    probs = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Softmax(dim=1))
    x, y = torch.rand(4, 1, 2, 2), torch.arange(4)
    with pytest.warns(AutoAttackWarning, match="probability"):
        AutoAttack(8 / 255, attacks=["apgd-ce"])(probs, x, y)
    assert AutoAttack(0.5, norm="l2").name == "autoattack-l2-0.5"


def test_torchattacks_autoattack_is_labelled_cheaper(model, data):
    atk = TorchattacksAutoAttack(8 / 255)
    assert atk.name == "ta-autoattack-8" and atk.name.startswith("ta-")
    assert "NOT comparable" in (TorchattacksAutoAttack.__doc__ or "")
    assert AutoAttack(8 / 255).name == "autoattack-8"
    # The claim in the docstring, against the installed torchattacks: 10 APGD/FAB iterations.
    inner = torchattacks.AutoAttack(model, eps=8 / 255, n_classes=10, seed=0)._autoattack
    assert [getattr(a, "steps", None) for a in inner.attacks[:3]] == [10, 10, 10]
    # It runs (a large ε so that APGD fools every point and the chain stops early).
    x, y = data[0][:8], data[1][:8]
    x_adv = TorchattacksAutoAttack(64 / 255)(model, x, y)
    assert_in_budget(x_adv, x, 64 / 255)


# --- any torchattacks attack -------------------------------------------------------------------


def test_torchattacks_adapter_binds_to_its_model(model, bn_model, data):
    x, y = data[0][:16], data[1][:16]
    ta = torchattacks.PGD(model, eps=EPS, alpha=EPS / 10, steps=5, random_start=False)
    atk = as_attack(ta)
    assert isinstance(atk, TorchattacksAttack) and atk.name == "ta-pgd-16"
    assert math.isclose(atk.eps, EPS)
    with pytest.raises(InvalidValueError, match="different model"):
        atk(bn_model, x, y)
    x_adv = atk(model, x, y)
    assert torch.equal(x_adv, ta(x, y))
    assert_in_budget(x_adv, x, EPS)


def test_as_attack_passes_ours_and_refuses_others():
    ours = PGDAttack(EPS, 5)
    assert as_attack(ours) is ours
    with pytest.raises(InvalidValueError):
        as_attack(lambda model, x, y: x)
    with pytest.raises(InvalidValueError):
        TorchattacksAttack(ours)


# --- minimal L2 distortion ---------------------------------------------------------------------


def test_minimal_l2_flips_and_is_nearly_minimal(model, data):
    x, y = data[0][:100], data[1][:100]
    atk = MinimalL2()
    assert atk.name == "min-l2" and atk.eps == math.inf and atk.norm == "l2"
    x_adv = atk(model, x, y)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    dist = minimal_l2_distortion(model, x, y, atk)
    with torch.no_grad():
        clean_ok = model(x).argmax(1) == y
        assert torch.equal(dist == 0, ~clean_ok)
        found = dist.isfinite() & clean_ok
        assert found.float().mean() >= 0.95 * clean_ok.float().mean()
        delta = x_adv - x
        torch.testing.assert_close(delta.flatten(1).norm(dim=1)[found], dist[found])
        assert (model(x_adv).argmax(1)[found] != y[found]).all()
        restored = model(x + 0.9 * delta).argmax(1)[found] == y[found]
    assert restored.float().mean() >= 0.5, restored.float().mean()


def test_minimal_l2_restores_mode_and_grads(bn_model, data):
    x, y = data[0][:16], data[1][:16]
    x_adv = check_mode_and_grads(MinimalL2(steps=20), bn_model, x, y)
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_autoattack_takes_non_contiguous_inputs_and_shows_progress(capsys):
    """A permuted NHWC array (the usual numpy layout) crashed inside APGD-T before."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    x = torch.rand(6, 8, 8, 3).permute(0, 3, 1, 2)
    assert not x.is_contiguous()
    y = model(x).argmax(1)
    atk = AutoAttack(8 / 255, progress=True)
    x_adv = atk(model, x, y)
    assert (x_adv - x).abs().max() <= 8 / 255 + 1e-6
    err = capsys.readouterr().err
    assert "autoattack-8" in err and "4/4" in err  # one step per attack of the ensemble
    assert atk.config_hash == AutoAttack(8 / 255, progress=False).config_hash
