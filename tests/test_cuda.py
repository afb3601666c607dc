"""CUDA path (run by benchmarks/gpu_check.sh with ``pytest -m cuda``; skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from entrobust.attacks import get_attack
from entrobust.defenses import Defense, DefenseParams, TrainingAdversary
from entrobust.evaluation import robust_accuracy
from entrobust.models import get_model
from entrobust.training import make_config, train

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def _model():
    torch.manual_seed(0)
    return get_model(
        "tiny-bn", num_classes=10, in_channels=3, mean=(0.5,) * 3, std=(0.25,) * 3
    ).cuda()


@pytest.mark.parametrize("name", ["fgsm8", "pgd5-8", "cw5-8", "l2pgd5-0.5", "autoattack-8"])
def test_attacks_keep_device_and_budget_on_cuda(name):
    model = _model().train()
    x, y = torch.rand(8, 3, 32, 32, device="cuda"), torch.randint(0, 10, (8,), device="cuda")
    atk = get_attack(name)
    x_adv = atk(model, x, y)
    assert x_adv.is_cuda and model.training
    assert (x_adv - x).abs().max() <= (atk.eps if atk.norm == "linf" else 1.0) + 1e-6
    x_cpu = x.cpu()
    assert atk(model, x_cpu, y.cpu()).device.type == "cpu"  # result follows the input


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_step_on_cuda(precision):
    model = _model()
    defense = Defense("pat-entm", DefenseParams(adversary=TrainingAdversary(8 / 255, 2 / 255, 3)))
    x, y = torch.rand(16, 3, 32, 32, device="cuda"), torch.randint(0, 10, (16,), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = defense.step(model, x, y)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_runner_trains_and_evaluates_on_cuda(tmp_path):
    cfg = make_config("digits", "trades", profile="ci", epochs=1, train_size=100, test_size=50)
    run = train(cfg, runs_dir=tmp_path, progress=False, device="cuda")
    assert next(run.model.parameters()).is_cuda
    x = torch.rand(8, 1, 8, 8)
    assert 0.0 <= robust_accuracy(run.model, get_attack("pgd5-32"), x, torch.zeros(8).long()) <= 1
