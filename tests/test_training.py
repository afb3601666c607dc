"""The runner: determinism, resume after a crash, caching, checkpoint safety, divergence."""

from __future__ import annotations

import json
import math

import pytest
import torch

from entrobust.checkpoint import load_checkpoint
from entrobust.data import load_dataset
from entrobust.defenses import DEFENSES
from entrobust.errors import CheckpointError, InvalidValueError, TrainingDivergedError
from entrobust.training import PAPER_TABLE5, load_run, make_config, train

from .conftest import SHARED_DATASETS

SMALL = dict(epochs=2, train_size=120, test_size=60, batch_size=32)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("defense", DEFENSES.names())
def test_every_defense_trains_one_ci_step(defense, runs_dir):
    cfg = make_config(
        "digits",
        defense,
        profile="ci",
        epochs=1,
        train_size=40,
        test_size=20,
        at_steps=2,
        batch_size=20,
    )
    run = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    assert run.metrics["status"] == "complete"
    assert math.isfinite(run.metrics["history"][0]["train_loss"])
    assert not run.model.training


def test_same_seed_same_weights_different_seed_differs(runs_dir, tmp_path):
    cfg = make_config("digits", "pat", profile="ci", **SMALL)
    a = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    b = train(cfg, runs_dir=tmp_path / "other", progress=False, device="cpu")
    for k, v in _weights(a.model).items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    c = train(
        make_config("digits", "pat", profile="ci", seed=1, **SMALL),
        runs_dir=runs_dir,
        progress=False,
        device="cpu",
    )
    assert not torch.equal(
        c.model.state_dict()["net.classifier.weight"], a.model.state_dict()["net.classifier.weight"]
    )


@pytest.mark.parametrize("defense", ["pat-entm", "trades"])
def test_resume_after_crash_equals_uninterrupted(defense, runs_dir, tmp_path):
    cfg = make_config(
        "digits",
        defense,
        profile="ci",
        epochs=3,
        milestones=(2,),
        train_size=120,
        test_size=60,
        batch_size=32,
    )
    full = train(cfg, runs_dir=tmp_path / "full", progress=False, device="cpu")

    def crash(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, runs_dir=runs_dir, progress=False, device="cpu", on_epoch_end=crash)
    run_dir = runs_dir / cfg.run_name
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "final.pt").exists()
    assert load_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 2
    resumed = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    for k, v in _weights(full.model).items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [h["train_loss"] for h in resumed.metrics["history"]] == [
        h["train_loss"] for h in full.metrics["history"]
    ]
    assert not (run_dir / "checkpoint.pt").exists()


def test_finished_run_is_reused_not_retrained(runs_dir):
    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    calls = []
    again = train(
        cfg,
        runs_dir=runs_dir,
        progress=False,
        device="cpu",
        on_epoch_end=lambda e, r: calls.append(e),
    )
    assert calls == []
    assert again.metrics["status"] == "complete"
    saved = json.loads((again.run_dir / "config.json").read_text())
    assert saved == cfg.to_dict()
    assert cfg.run_name.endswith(cfg.hash) and len(cfg.hash) == 12


def test_changed_hyperparameter_gets_a_new_run(runs_dir):
    a = make_config("digits", "entm", profile="ci", **SMALL)
    b = make_config("digits", "entm", profile="ci", lam=1.0, **SMALL)
    assert a.hash != b.hash


def test_corrupt_checkpoint_is_a_clear_error_and_is_kept(runs_dir):
    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    run_dir = runs_dir / cfg.run_name
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    assert (run_dir / "checkpoint.pt").read_bytes() == b"\x00garbage"


def test_truncated_final_weights_are_a_clear_error(runs_dir):
    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    run = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    final = run.run_dir / "final.pt"
    final.write_bytes(final.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_run(run.run_dir)


def test_checkpoints_load_with_weights_only(runs_dir):
    cfg = make_config("digits", "normal", profile="ci", **SMALL)
    run = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    payload = torch.load(run.run_dir / "final.pt", weights_only=True)
    assert set(payload) == {"model", "config", "spec", "data_fingerprint"}


def test_replaced_npz_is_never_reused_silently(tmp_path, runs_dir):
    import numpy as np

    from entrobust.errors import DataMismatchError
    from entrobust.training.runner import load_config_data

    g = np.random.default_rng(0)

    def write():
        x = g.integers(0, 256, (200, 8, 8), dtype=np.uint8)
        y = (np.arange(200) % 4).astype(np.int64)
        np.savez(tmp_path / "toy.npz", x_train=x, y_train=y, x_test=x[:40], y_test=y[:40])

    write()
    cfg = make_config(
        "toy",
        "normal",
        profile="ci",
        data_dir=str(tmp_path),
        epochs=1,
        train_size=100,
        test_size=40,
    )
    run = train(cfg, runs_dir=runs_dir, data_dir=tmp_path, progress=False, device="cpu")
    assert run.metrics["data_fingerprint"] == load_config_data(cfg, tmp_path).source_fingerprint
    again = train(cfg, runs_dir=runs_dir, data_dir=tmp_path, progress=False, device="cpu")
    assert again.cached
    write()  # other images under the same name
    with pytest.raises(DataMismatchError, match="trained on other 'toy' data"):
        train(cfg, runs_dir=runs_dir, data_dir=tmp_path, progress=False, device="cpu")
    assert (run.run_dir / "final.pt").is_file()  # nothing destroyed


def test_nan_loss_stops_with_clear_message(runs_dir):
    cfg = make_config("digits", "normal", profile="ci", lr=1e30, **SMALL)
    with pytest.raises(TrainingDivergedError, match="lower --lr"):
        train(cfg, runs_dir=runs_dir, progress=False, device="cpu")


def test_eps_given_in_pixels_is_rejected():
    with pytest.raises(InvalidValueError, match="8/255"):
        make_config("digits", "pat", profile="ci", at_eps=8)


def test_ls_on_mnist_needs_gamma():
    cfg = make_config("digits", "ls", profile="ci")
    assert cfg.gamma == pytest.approx(0.74)


def test_paper_profile_is_table5():
    import csv

    path = SHARED_DATASETS.parent / "paper" / "tables" / "table5.csv"
    if not path.exists():
        pytest.skip("paper tables not beside the checkout")
    for row in csv.DictReader(path.open()):
        ours = PAPER_TABLE5[row["model_family"]]
        assert ours.epochs == int(row["total_training_epochs"])
        assert ours.lr == float(row["initial_learning_rate"])
        assert ours.batch_size == int(row["batch_size"])
        assert ours.weight_decay == float(row["weight_decay"])
        assert ours.momentum == float(row["momentum"])
        assert ours.lr_decay == float(row["learning_rate_decay_rate"])
        assert list(ours.milestones) == json.loads(
            row["learning_rate_decay_epoch"].join("[]")
            if "[" not in row["learning_rate_decay_epoch"]
            else row["learning_rate_decay_epoch"]
        )


def test_paper_profile_resolves_per_dataset():
    c = make_config("cifar10", "pat-entm", profile="paper")
    assert (c.epochs, c.lr, c.milestones, c.batch_size) == (120, 0.1, (60, 84, 100), 64)
    assert (c.at_eps, c.at_step, c.at_steps, c.lam, c.gamma) == (8 / 255, 2 / 255, 7, 2.0, 0.74)
    n = make_config("cifar100", "ls", profile="paper")
    assert (n.epochs, n.milestones, n.gamma) == (200, (100, 150), 0.84)
    m = make_config("mnist", "trades", profile="paper")
    assert (m.arch, m.epochs, m.lr, m.batch_size, m.at_eps, m.at_steps, m.beta) == (
        "cnn4",
        40,
        0.01,
        128,
        48 / 255,
        10,
        3.0,
    )


@pytest.mark.skipif(not (SHARED_DATASETS / "mnist.npz").exists(), reason="no mnist.npz")
def test_mnist_npz_trains(runs_dir):
    cfg = make_config(
        "mnist",
        "pat",
        profile="ci",
        train_size=64,
        test_size=32,
        at_steps=1,
        data_dir=str(SHARED_DATASETS),
    )
    run = train(cfg, runs_dir=runs_dir, data_dir=SHARED_DATASETS, progress=False, device="cpu")
    assert run.metrics["n_train"] == 64 and run.config.arch == "cnn4"
    assert load_dataset("mnist", data_dir=SHARED_DATASETS).x_train.shape == (60000, 1, 28, 28)


def test_atomic_writes_have_normal_permissions(tmp_path):
    import os

    from entrobust.atomic import write_json

    write_json(tmp_path / "a.json", {"x": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~mask
