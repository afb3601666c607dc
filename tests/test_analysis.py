"""Analysis formulas against independent references, and every ``analyze`` command end to end."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from entrobust.analysis import (
    TABLE4_ROWS,
    decision_margin,
    distortion_correlation,
    eps_curve,
    jacobian_analysis,
    jacobian_spectral_norm,
    loss_surface,
    nonlinearity,
    steps_curve_step_size,
    surface_directions,
    table4_summary,
)
from entrobust.attacks import PGDAttack
from entrobust.attacks.min_l2 import MinimalL2
from entrobust.cli.main import main
from entrobust.data import load_dataset
from entrobust.models import get_model
from entrobust.paperdata import paper_table
from entrobust.tensors import as_float_images
from entrobust.training import make_config, train

SMALL = {"epochs": 10, "train_size": 800, "test_size": 150}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A normal and a PAT digits run, in the session's shared runs dir (cached if test_audit
    trained them already)."""
    runs_dir = tmp_path_factory.getbasetemp() / "shared-runs"
    out = {}
    for defense, seed in (("normal", 1), ("pat", 0)):
        cfg = make_config("digits", defense, profile="quick", seed=seed, **SMALL)
        out[defense] = train(cfg, runs_dir=runs_dir, progress=False, device="cpu")
    return out


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits", train_size=800, test_size=150, seed=0)
    return as_float_images(d.x_test), d.y_test


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return get_model("tiny", num_classes=10, in_channels=1, mean=(0.3,), std=(0.4,)).eval()


# ------------------------------------------------------------------ formulas


def _full_jacobian_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    norms = []
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(model, x[i : i + 1])  # (1, C, 1, ...)
        norms.append(torch.linalg.svdvals(jac.reshape(jac.shape[1], -1))[0])
    return torch.stack(norms)


@pytest.mark.parametrize("which", ["random-init", "trained"])
def test_spectral_norm_matches_full_jacobian(which, runs, digits):
    model = _tiny() if which == "random-init" else runs["normal"].model
    x = digits[0][:6]
    power = jacobian_spectral_norm(model, x, iters=1000, tol=1e-7)
    exact = _full_jacobian_norms(model, x)
    assert torch.allclose(power, exact, rtol=1e-4, atol=0), (power, exact)


def test_spectral_norm_of_a_linear_map_is_its_largest_singular_value():
    torch.manual_seed(0)
    lin = nn.Linear(12, 5)
    sigma = torch.linalg.svdvals(lin.weight.detach())[0]
    got = jacobian_spectral_norm(lin, torch.rand(3, 12), iters=1000, tol=1e-8)
    assert torch.allclose(got, sigma.expand(3), rtol=1e-4)


def test_spectral_norm_leaves_mode_and_grads_alone():
    model = _tiny().train()
    jacobian_spectral_norm(model, torch.rand(2, 1, 8, 8), iters=3)
    assert model.training
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_margin_on_a_tiny_linear_model_by_hand():
    lin = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    x = torch.tensor([[2.0, 1.0], [0.5, 3.0]])
    logits = lin(x)  # [[2, 1, 3], [0.5, 3, 3.5]]
    m = decision_margin(logits, torch.tensor([2, 0]))
    assert m.tolist() == [3.0 - 2.0, 0.5 - 3.5]


def test_nonlinearity_by_hand():
    # affine model: f(X') − f(X) = J(X' − X) exactly, so Q_f = 0
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)
    x, x_adv = torch.rand(2, 3), torch.rand(2, 3)
    assert nonlinearity(lin, x, x_adv).abs().max() < 1e-6
    # f = ReLU at X = (1, 1), X' = (−1, 2): J = I, J·δ = (−2, 1), f(X') − f(X) = (−1, 1),
    # residual (1, 0): Q_f = 1 / √5
    q = nonlinearity(nn.ReLU(), torch.tensor([[1.0, 1.0]]), torch.tensor([[-1.0, 2.0]]))
    assert q.item() == pytest.approx(1 / math.sqrt(5), rel=1e-6)
    # J·δ = 0 (ReLU off along δ): undefined, NaN
    q0 = nonlinearity(nn.ReLU(), torch.tensor([[-1.0, -1.0]]), torch.tensor([[1.0, -1.0]]))
    assert math.isnan(q0.item())


def test_steps_curve_step_rule():
    assert steps_curve_step_size(8 / 255, 8) == pytest.approx(2 / 255)
    assert steps_curve_step_size(16 / 255, 256) == pytest.approx(1 / 510)


def test_jacobian_analysis_columns_are_consistent(runs, digits):
    x, y = digits[0][:24], digits[1][:24]
    f = jacobian_analysis(
        runs["pat"].model, x, y, attack=PGDAttack(0.5, 5, norm="l2"), min_l2=MinimalL2(steps=20)
    )
    assert len(f) == 24
    ratio = f["margin"] / f["spectral_norm"]
    assert np.allclose(f["normalized_margin"], ratio)
    assert (f["robust"] <= f["correct"]).all()
    assert (f.loc[~f["correct"], "l2_distortion"] == 0).all()
    assert (f.loc[f["correct"], "l2_distortion"] > 0).all()
    assert (f["correct"] == (f["margin"] > 0)).all()
    summary = table4_summary({"pat": f})
    assert list(summary.index[: len(TABLE4_ROWS)]) == list(paper_table("table4")["metric"])
    assert summary.loc["margin_M_fX", "pat"] == pytest.approx(f["margin"].mean())
    assert summary.loc["n_examples", "pat"] == 24


def test_distortion_correlation_uses_correct_finite_points():
    f = pd.DataFrame(
        {
            "correct": [True, True, True, False, True],
            "normalized_margin": [1.0, 2.0, 3.0, -5.0, 9.0],
            "l2_distortion": [0.1, 0.2, 0.3, 0.0, math.inf],
        }
    )
    r, n = distortion_correlation(f)
    assert n == 3 and r == pytest.approx(1.0)


def test_surface_directions_and_grid(runs, digits):
    model = runs["pat"].model
    x, y = digits[0][:1], digits[1][:1]
    d1, d2 = surface_directions(model, x, y, seed=3)
    assert set(d2.unique().tolist()) == {-1.0, 1.0}
    assert d1.abs().max() == 1
    s = loss_surface(model, x, y, grid=5, seed=3)
    assert len(s) == 25 and s["eps1"].max() == pytest.approx(0.04)
    centre = s[(s["eps1"] == 0) & (s["eps2"] == 0)]
    logits = model(x)
    assert centre["margin"].item() == pytest.approx(decision_margin(logits, y).item(), rel=1e-5)
    # the same seed gives the same random direction
    assert torch.equal(surface_directions(model, x, y, seed=3)[1], d2)


def test_eps_curve_is_monotone_on_trained_model(runs, digits):
    f = eps_curve(runs["pat"].model, digits[0][:60], digits[1][:60], ks=(10, 40, 150))
    assert f["accuracy"].is_monotonic_decreasing
    assert f["accuracy"].iloc[-1] <= 0.1


# ------------------------------------------------------------------ the CLI


def _cli(*args: str) -> int:
    return main(["analyze", *args, "--device", "cpu"])


def test_analyze_eps_curve_cli(runs, tmp_path, capsys):
    both = f"{runs['normal'].run_dir},{runs['pat'].run_dir}"
    assert (
        _cli(
            "eps-curve",
            "--runs",
            both,
            "--ks",
            "10,40",
            "--test-size",
            "50",
            "--out",
            str(tmp_path),
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "eps_curve.csv")
    assert set(table["model"]) == {"normal", "pat"} and set(table["k"]) == {10, 40}
    assert (tmp_path / "eps_curve.png").stat().st_size > 1000
    assert "robust accuracy" in capsys.readouterr().out


def test_analyze_steps_curve_cli(runs, tmp_path):
    assert (
        _cli(
            "steps-curve",
            "--run",
            str(runs["pat"].run_dir),
            "--eps-list",
            "16",
            "--steps",
            "8,16",
            "--gammas",
            "0,0.5",
            "--test-size",
            "40",
            "--out",
            str(tmp_path),
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "steps_curve.csv")
    assert set(table["attack"]) == {"pgd", "adaptive"} and len(table) == 4
    assert (tmp_path / "steps_curve.png").is_file()


def test_analyze_lambda_sweep_cli_trains_once(tmp_path, capsys):
    args = (
        "lambda-sweep",
        "--dataset",
        "digits",
        "--profile",
        "ci",
        "--lams",
        "0,2",
        "--epochs",
        "1",
        "--train-size",
        "100",
        "--test-size",
        "40",
        "--attack",
        "pgd5-32",
        "--restarts",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    assert _cli(*args) == 0
    table = pd.read_csv(tmp_path / "runs" / "analysis" / "lambda_sweep.csv")
    assert table["lam"].tolist() == [0.0, 2.0] and not table["cached"].any()
    assert (table["robust_accuracy"] <= table["clean_accuracy"]).all()
    assert (tmp_path / "runs" / "analysis" / "lambda_sweep.png").is_file()
    assert _cli(*args, "--out", str(tmp_path / "again")) == 0
    assert pd.read_csv(tmp_path / "again" / "lambda_sweep.csv")["cached"].all()
    assert "λ = 2: clean" in capsys.readouterr().out


def test_analyze_jacobian_cli(runs, tmp_path):
    both = f"{runs['normal'].run_dir},{runs['pat'].run_dir}"
    assert (
        _cli(
            "jacobian",
            "--runs",
            both,
            "--test-size",
            "30",
            "--power-iters",
            "30",
            "--min-l2-steps",
            "20",
            "--restarts",
            "1",
            "--out",
            str(tmp_path),
        )
        == 0
    )
    summary = pd.read_csv(tmp_path / "table4.csv", index_col=0)
    assert list(summary.columns) == ["normal", "pat"]
    assert list(summary.index[:6]) == list(TABLE4_ROWS)
    per = pd.read_csv(tmp_path / "jacobian_per_example.csv")
    assert len(per) == 60 and {"q_f", "l2_distortion", "spectral_norm"} <= set(per.columns)
    assert (tmp_path / "margin_distortion.png").is_file()


def test_analyze_surface_cli(runs, tmp_path):
    assert (
        _cli(
            "surface",
            "--run",
            str(runs["pat"].run_dir),
            "--grid",
            "5",
            "--index",
            "0,3",
            "--out",
            str(tmp_path),
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "surface.csv")
    assert len(table) == 2 * 25 and set(table["index"]) == {0, 3}
    # the surface is taken around the [0, 1] image (the CLI reads uint8 test images)
    d = load_dataset("digits", train_size=800, test_size=150, seed=0)
    x, y = as_float_images(d.x_test[3:4]), d.y_test[3:4]
    centre = table[(table["index"] == 3) & (table["eps1"] == 0) & (table["eps2"] == 0)]
    loss = torch.nn.functional.cross_entropy(runs["pat"].model(x), y).item()
    assert centre["loss"].item() == pytest.approx(loss, rel=1e-5)
    assert table[table["index"] == 3].groupby("eps2")["loss"].nunique().min() > 1  # varies along d₁
    assert (tmp_path / "surface_pat_0.png").is_file() and (tmp_path / "surface_pat_3.png").is_file()


def test_analyze_random_search_cli_default_out_dir(runs):
    run_dir = runs["pat"].run_dir
    assert (
        _cli(
            "random-search",
            "--run",
            str(run_dir),
            "--samples",
            "50",
            "--eps",
            "32/255",
            "--pgd",
            "pgd10-32",
            "--restarts",
            "1",
            "--test-size",
            "50",
        )
        == 0
    )
    table = pd.read_csv(run_dir / "analysis" / "random_search.csv")
    assert table.columns[:3].tolist() == ["model", "pgd32_fails", "random_succeeds"]
    assert table["random_succeeds"].item() <= table["pgd32_fails"].item() <= 50
    assert (run_dir / "analysis" / "random_search.png").is_file()


def test_analyze_errors_are_one_line(runs, capsys):
    assert _cli("surface", "--run", str(runs["pat"].run_dir), "--index", "9999") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--index 9999" in err[0]
    assert _cli("jacobian", "--run", str(runs["pat"].run_dir), "--attack", "pgd10-8") == 2
    assert "L2 attack" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        _cli("eps-curve")  # neither --run nor --runs
    assert exc.value.code == 2
