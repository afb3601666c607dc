"""The attack protocol over the whole registry, plus strength orderings on a trained model."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from entrobust.attacks import (
    ATTACK_FORMS,
    AdaptiveSmoothedPGD,
    AttackBudgetError,
    AttackOptions,
    PGDAttack,
    RandomSearch,
    TransferAttack,
    cw_margin_loss,
    get_attack,
)
from entrobust.attacks.base import Attack
from entrobust.attacks.registry import ATTACK_REGISTRY, register_attack
from entrobust.data import load_dataset
from entrobust.errors import InvalidValueError, UnknownNameError
from entrobust.evaluation import accuracy, craft_cached, random_search_report, robust_accuracy
from entrobust.models import get_model
from entrobust.tensors import as_float_images
from entrobust.training import make_config, train

# One concrete name per registry form, from the registry itself: a new form is tested here as
# soon as it is registered (with its example).
REGISTRY_SAMPLES = {form: entry.example for form, entry in ATTACK_REGISTRY.items()}
FAST = AttackOptions(restarts=2)


def test_samples_cover_every_registry_form():
    assert set(REGISTRY_SAMPLES) == set(ATTACK_FORMS)
    for form, entry in ATTACK_REGISTRY.items():
        assert entry.pattern.fullmatch(entry.example), form
        assert entry.description and "\n" not in entry.description, form
        assert get_attack(entry.example).name == entry.example  # builds, under its own name


def test_register_attack_refuses_duplicates_and_bad_examples():
    with pytest.raises(ValueError, match="twice"):
        register_attack("clean", r"clean", example="clean", description="again")(
            lambda m, n, o: None
        )
    with pytest.raises(ValueError, match="does not match"):
        register_attack("zzz{k}", r"zzz(\d+)", example="zzz", description="bad example")(
            lambda m, n, o: None
        )
    assert "zzz{k}" not in ATTACK_REGISTRY


def _model(arch: str) -> nn.Module:
    torch.manual_seed(0)
    return get_model(arch, num_classes=10, in_channels=1, mean=(0.3,), std=(0.4,))


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits", test_size=120, train_size=600)
    return d, as_float_images(d.x_test), d.y_test


@pytest.mark.parametrize("arch", ["tiny", "tiny-bn"])
@pytest.mark.parametrize("name", list(REGISTRY_SAMPLES.values()))
def test_protocol_for_every_attack(name, arch, digits):
    _, x, y = digits
    x, y = x[:6], y[:6]
    model = _model(arch).train()
    model.net.features[0].weight.grad = None
    attack = get_attack(name, FAST)
    x_adv = attack(model, x, y)
    assert x_adv.shape == x.shape and x_adv.device == x.device and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    if attack.norm == "linf" and attack.eps < 1:
        assert delta.abs().max() <= attack.eps + 1e-6
    elif attack.norm == "l2" and attack.eps != float("inf"):
        assert delta.norm(dim=1).max() <= attack.eps + 1e-5
    assert model.training, "mode must be restored"
    assert all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters()), "no gradients left on parameters"


def test_mixed_modes_are_restored_exactly():
    model = _model("tiny-bn").train()
    model.net.features[1].eval()
    get_attack("pgd3-8", FAST)(model, torch.rand(4, 1, 8, 8), torch.arange(4))
    assert model.training and not model.net.features[1].training and model.net.features[4].training


def test_budget_violations_are_caught():
    class Cheater(Attack):
        name, eps, norm = "cheater", 8 / 255, "linf"

        def perturb(self, model, x, y):
            return (x + 0.5).clamp(0, 1)

    with pytest.raises(AttackBudgetError, match="ball"):
        Cheater()(_model("tiny"), torch.full((2, 1, 8, 8), 0.2), torch.tensor([0, 1]))


def test_names_follow_the_paper_notation():
    a = get_attack("pgd20-4")
    assert (a.steps, a.restarts, a.init, a.init_std) == (20, 5, "normal", 0.005)
    assert a.eps == pytest.approx(4 / 255) and a.step_size == pytest.approx(4 / 2550)
    cw = get_attack("cw40-16")
    assert cw.loss_fn is cw_margin_loss and cw.eps == pytest.approx(16 / 255)
    l2 = get_attack("l2pgd20-0.5")
    assert (l2.norm, l2.eps, l2.steps) == ("l2", 0.5, 20)
    f = get_attack("fgsm8")
    assert (f.steps, f.init) == (1, "none") and f.step_size == pytest.approx(8 / 255)


def test_bad_names_are_clear_errors():
    with pytest.raises(InvalidValueError, match=re.escape("ε = 800/255 > 1")):
        get_attack("pgd10-800")
    with pytest.raises(UnknownNameError, match=r"valid forms .*pgd\{steps\}-\{k\}"):
        get_attack("pgd-eight")


def test_cw_loss_masks_true_class_unlike_zero_mask():
    """All-negative logits: the non-target max must be −2, not 0 (torchattacks' pitfall)."""
    logits = torch.tensor([[-1.0, -3.0, -2.0]])
    assert cw_margin_loss(logits, torch.tensor([0]), kappa=0.0).item() == -1.0
    assert cw_margin_loss(logits, torch.tensor([0]), kappa=50.0).item() == -51.0


def test_early_exit_equals_naive_restarts_under_same_rng(digits):
    _, x, y = digits
    model = _model("tiny").eval()
    results = []
    for early in (True, False):
        torch.manual_seed(3)
        atk = PGDAttack(16 / 255, 5, restarts=4, init="normal", init_std=0.05, early_exit=early)
        results.append(atk(model, x, y))
    torch.testing.assert_close(results[0], results[1], atol=1e-6, rtol=0)


def test_restarts_never_lower_success(trained_normal, digits):
    _, x, y = digits
    model = trained_normal
    accs = []
    for restarts in (1, 5):
        torch.manual_seed(0)
        atk = PGDAttack(16 / 255, 5, restarts=restarts, init="normal", init_std=0.03)
        accs.append(robust_accuracy(model, atk, x, y))
    assert accs[1] <= accs[0]


@pytest.fixture(scope="module")
def trained_normal(tmp_path_factory):
    cfg = make_config("digits", "normal", profile="quick", epochs=15, train_size=600, test_size=120)
    torch.manual_seed(0)
    return train(cfg, runs_dir=tmp_path_factory.mktemp("runs"), progress=False, device="cpu").model


def test_strength_ordering_on_undefended_model(trained_normal, digits):
    _, x, y = digits
    clean = accuracy(trained_normal, x, y)
    torch.manual_seed(0)
    accs = {
        n: robust_accuracy(trained_normal, get_attack(n), x, y)
        for n in ("fgsm16", "pgd10-16", "pgd40-16", "pgd40-64")
    }
    print({"clean": clean, **accs})
    assert clean >= 0.85
    assert accs["fgsm16"] >= accs["pgd10-16"] >= accs["pgd40-16"]
    assert accs["pgd40-64"] <= 0.05


def test_adaptive_is_at_least_as_strong_as_plain_ce(trained_normal, digits):
    _, x, y = digits
    plain = PGDAttack(8 / 255, 5, init="none")
    adaptive = AdaptiveSmoothedPGD(8 / 255, 5, gammas=(0.0, 0.5, 1.0), init="none")
    assert robust_accuracy(trained_normal, adaptive, x, y) <= robust_accuracy(
        trained_normal, plain, x, y
    )


def test_smoothed_label_with_gamma_zero_is_pgd_on_ce(trained_normal, digits):
    _, x, y = digits
    a = AdaptiveSmoothedPGD(8 / 255, 5, gammas=(0.0,), init="none")(trained_normal, x, y)
    b = PGDAttack(8 / 255, 5, init="none")(trained_normal, x, y)
    torch.testing.assert_close(a, b)


def test_random_search_breaks_a_weak_model_and_report_counts(trained_normal, digits):
    _, x, y = digits
    torch.manual_seed(0)
    report = random_search_report(
        trained_normal, x, y, get_attack("pgd10-4"), RandomSearch(32 / 255, n_samples=200, chunk=50)
    )
    assert report.n == len(x)
    assert 0 < report.pgd_survivors <= len(x)
    assert 0 <= report.random_breaks <= report.pgd_survivors


def test_random_search_finds_the_only_adversarial_corner():
    """A model that is wrong only when every pixel is pushed up: search must find it."""

    class Corner(nn.Module):
        def forward(self, x):
            up = (x.flatten(1) > 0.5 + 0.9 * 0.1).all(dim=1).float()
            return torch.stack([1 - up, up], dim=1)

    x = torch.full((1, 1, 1, 2), 0.5)
    torch.manual_seed(0)
    x_adv = RandomSearch(0.1, n_samples=64, chunk=8)(Corner(), x, torch.tensor([0]))
    torch.testing.assert_close(x_adv, torch.full_like(x, 0.6))


def test_transfer_uses_proxy_gradients_and_caches(trained_normal, digits, tmp_path, monkeypatch):
    _, x, y = digits
    target = _model("tiny").eval()
    attack = PGDAttack(16 / 255, 3, init="none")
    expected = attack(trained_normal, x, y)
    torch.testing.assert_close(TransferAttack(trained_normal, attack)(target, x, y), expected)
    cache = tmp_path / "t.pt"
    first = craft_cached(trained_normal, attack, x, y, cache)
    import entrobust.evaluation as evaluation

    monkeypatch.setattr(evaluation, "run_attack", lambda *a, **k: pytest.fail("recrafted"))
    torch.testing.assert_close(craft_cached(trained_normal, attack, x, y, cache), first)


def test_l2_pgd_stays_in_ball_and_moves(trained_normal, digits):
    _, x, y = digits
    x_adv = get_attack("l2pgd20-0.5", FAST)(trained_normal, x, y)
    norms = (x_adv - x).flatten(1).norm(dim=1)
    assert norms.max() <= 0.5 + 1e-5 and norms.mean() > 0.1


def test_pgd_matches_manual_loop(trained_normal, digits):
    """Independent reference: the textbook PGD loop written out here."""
    _, x, y = digits
    eps, step = 16 / 255, 1.6 / 255
    x_ref = x.clone()
    for _ in range(5):
        x_ref.requires_grad_(True)
        loss = F.cross_entropy(trained_normal(x_ref), y)
        (g,) = torch.autograd.grad(loss, x_ref)
        x_ref = torch.min(torch.max(x_ref.detach() + step * g.sign(), x - eps), x + eps).clamp(0, 1)
    ours = PGDAttack(eps, 5, init="none")(trained_normal, x, y)
    torch.testing.assert_close(ours, x_ref)


def test_torchattacks_objects_work_through_our_evaluation(trained_normal, digits):
    import torchattacks

    _, x, y = digits
    ta = torchattacks.PGD(
        trained_normal, eps=16 / 255, alpha=1.6 / 255, steps=5, random_start=False
    )
    ours = PGDAttack(16 / 255, 5, init="none")
    assert robust_accuracy(trained_normal, ta, x, y) == pytest.approx(
        robust_accuracy(trained_normal, ours, x, y), abs=1 / len(x)
    )


def test_minimal_l2_distortion_converts_uint8_images():
    from entrobust.attacks.min_l2 import MinimalL2, minimal_l2_distortion

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = (torch.rand(6, 1, 2, 2) * 255).to(torch.uint8)
    y = torch.zeros(6, dtype=torch.long)
    attack = MinimalL2(steps=5)
    torch.testing.assert_close(
        minimal_l2_distortion(model, x, y, attack),
        minimal_l2_distortion(model, as_float_images(x), y, attack),
    )
