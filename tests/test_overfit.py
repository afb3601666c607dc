"""Catastrophic-overfitting monitor of fast AT: recorded per epoch, warns on a planted collapse,
and leaves training (and resume) bit-identical."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

from entrobust.checkpoint import load_checkpoint
from entrobust.training import make_config, train
from entrobust.training.overfit import (
    CatastrophicOverfittingWarning,
    NotLearnedWarning,
    OverfitMonitor,
    near_chance,
)

SMALL = dict(epochs=3, milestones=(2,), train_size=120, test_size=60, batch_size=32)


def _monitor() -> OverfitMonitor:
    g = torch.Generator().manual_seed(0)
    return OverfitMonitor(torch.rand(32, 1, 4, 4, generator=g), torch.randint(0, 3, (32,)), 0.1)


def test_planted_collapse_warns_once_per_collapsed_epoch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    mon = _monitor()
    acc = mon.pgd_accuracy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when nothing collapsed
        assert not mon.epoch_record(model, [])["pgd_collapsed"]
        assert not mon.epoch_record(model, [{"pgd_accuracy": acc}])["pgd_collapsed"]
        assert not mon.epoch_record(model, [{"pgd_accuracy": None}])["pgd_collapsed"]
    with pytest.warns(CatastrophicOverfittingWarning, match=r"fell to .* at epoch 3 \(best"):
        rec = mon.epoch_record(model, [{"pgd_accuracy": 0.2}, {"pgd_accuracy": acc + 0.25}])
    assert rec["pgd_collapsed"] and rec["pgd_accuracy"] == acc


def test_pgd_accuracy_is_seeded_and_leaves_the_rng_and_model_alone():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.BatchNorm1d(3)).train()
    mon = _monitor()
    state = torch.get_rng_state()
    bn = model[2].running_mean.clone()
    a, b = mon.pgd_accuracy(model), mon.pgd_accuracy(model)
    assert a == b and 0.0 <= a <= 1.0
    assert torch.equal(state, torch.get_rng_state())
    assert torch.equal(bn, model[2].running_mean) and model.training
    assert all(p.grad is None for p in model.parameters())


def test_only_fast_runs_are_monitored():
    x, y = torch.zeros(10, 1, 8, 8, dtype=torch.uint8), torch.zeros(10, dtype=torch.long)
    cpu = torch.device("cpu")
    for name in ("fast", "fast-entm", "fast-ls"):
        assert OverfitMonitor.for_run(make_config("digits", name), x, y, cpu) is not None
    for name in ("pat", "mart", "trades", "normal"):
        assert OverfitMonitor.for_run(make_config("digits", name), x, y, cpu) is None


def test_runner_records_the_curve_and_warns_on_a_planted_collapse(runs_dir, monkeypatch):
    curve = iter([0.6, 0.7, 0.1])
    monkeypatch.setattr(OverfitMonitor, "pgd_accuracy", lambda self, model: next(curve))
    cfg = make_config("digits", "fast", profile="ci", **SMALL)
    with pytest.warns(CatastrophicOverfittingWarning, match="at epoch 3"):
        run = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    history = json.loads((run.run_dir / "metrics.json").read_text())["history"]
    assert [h["pgd_accuracy"] for h in history] == [0.6, 0.7, 0.1]
    assert [h["pgd_collapsed"] for h in history] == [False, False, True]


def test_monitor_changes_no_weight_and_resume_is_bit_identical(runs_dir, tmp_path, monkeypatch):
    cfg = make_config("digits", "fast", profile="ci", **SMALL)
    full = train(cfg, runs_dir=tmp_path / "full", progress=False, device="cpu")
    assert all(0.0 <= h["pgd_accuracy"] <= 1.0 for h in full.metrics["history"])

    def crash(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, runs_dir=runs_dir, progress=False, device="cpu", on_epoch_end=crash)
    assert load_checkpoint(runs_dir / cfg.run_name / "checkpoint.pt")["epoch"] == 2
    resumed = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    keys = ("train_loss", "test_accuracy", "pgd_accuracy")
    assert [[h[k] for k in keys] for h in resumed.metrics["history"]] == [
        [h[k] for k in keys] for h in full.metrics["history"]
    ]

    monkeypatch.setattr(OverfitMonitor, "for_run", classmethod(lambda cls, *a, **k: None))
    unmonitored = train(cfg, runs_dir=tmp_path / "off", progress=False, device="cpu")
    assert "pgd_accuracy" not in unmonitored.metrics["history"][0]
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, unmonitored.model.state_dict()[k]), k


def test_a_run_that_did_not_learn_warns_and_a_learning_one_does_not(runs_dir):
    """Clean accuracy near chance at the end of training: one NotLearnedWarning naming the run
    (here a learning rate too small to move the weights); a normal run: no warning."""
    stuck = make_config("digits", "normal", profile="ci", **{**SMALL, "epochs": 1, "lr": 1e-9})
    with pytest.warns(
        NotLearnedWarning, match="digits/normal seed 0: clean accuracy .* near chance"
    ):
        run = train(stuck, runs_dir=runs_dir, progress=False, device="cpu")
    assert near_chance(run.metrics["clean_accuracy"], 10)
    learns = make_config("digits", "normal", profile="ci", train_size=600, test_size=120)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotLearnedWarning)
        run = train(learns, runs_dir=runs_dir, progress=False, device="cpu")
    assert not near_chance(run.metrics["clean_accuracy"], 10)
