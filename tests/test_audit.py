"""The gradient-masking audit: planted masking models are flagged, an honest PAT model passes.

The planted models wrap a small digits model trained normally (via the runner):

* quantized input (``round(4x)/4``): zero input gradient everywhere → zero-gradients, and
  gradient-free attacks (random search / transfer) succeed where PGD cannot;
* saturated softmax output (``softmax(100·logits)``): probabilities, not logits;
* noisy input at every forward: randomized outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from entrobust.audit import (
    CHECK_KEYS,
    AuditReport,
    AuditSettings,
    CheckResult,
    check_probability_output,
    check_randomized_output,
    check_zero_gradients,
    run_audit,
)
from entrobust.audit import thresholds as th
from entrobust.cli.main import main
from entrobust.data import load_dataset
from entrobust.errors import UnknownNameError
from entrobust.tensors import as_float_images
from entrobust.training import make_config, train

EPS = 32 / 255  # digits' training ε
SMALL = {"epochs": 10, "train_size": 800, "test_size": 150}


def shared_runs(tmp_path_factory) -> Path:
    """One runs directory for the whole session: test_analysis reuses these cached runs."""
    return tmp_path_factory.getbasetemp() / "shared-runs"


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory):
    cfg = make_config("digits", "normal", profile="quick", seed=1, **SMALL)
    return train(cfg, runs_dir=shared_runs(tmp_path_factory), progress=False, device="cpu")


@pytest.fixture(scope="module")
def pat_run(tmp_path_factory):
    cfg = make_config("digits", "pat", profile="quick", seed=0, **SMALL)
    return train(cfg, runs_dir=shared_runs(tmp_path_factory), progress=False, device="cpu")


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits", train_size=800, test_size=150, seed=0)
    return as_float_images(d.x_test), d.y_test


class Quantized(nn.Module):
    """Input quantization to 5 levels: ``torch.round`` has a zero gradient everywhere."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(torch.round(x * 4) / 4)


class SaturatedSoftmax(nn.Module):
    """Returns ``softmax(100·logits)``: probabilities, and vanishing gradients."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(100 * self.base(x), dim=1)


class Noisy(nn.Module):
    """Adds Gaussian noise to the input at every forward pass (a randomized defense)."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base((x + 0.1 * torch.randn_like(x)).clamp(0, 1))


def _audit(model, digits, proxy=None, checks=None) -> AuditReport:
    x, y = digits
    settings = AuditSettings(eps=EPS, restarts=1, samples=200, seed=0)
    return run_audit(model, x, y, settings, proxy=proxy, checks=checks)


def _verdicts(report: AuditReport) -> dict[str, str]:
    return {c.key: c.verdict for c in report.checks}


def test_honest_pat_passes_every_check(pat_run, normal_run, digits):
    report = _audit(pat_run.model, digits, proxy=normal_run.model)
    assert [c.key for c in report.checks] == list(CHECK_KEYS)
    assert _verdicts(report) == dict.fromkeys(CHECK_KEYS, "pass"), report.summary_lines()
    assert report.passed and report.failed == []
    md = report.to_markdown()
    assert "Overall: PASS" in md and "| (a) white-box accuracy" in md


def test_quantized_input_is_flagged(normal_run, digits):
    model = Quantized(normal_run.model)
    report = _audit(model, digits, proxy=normal_run.model)
    v = _verdicts(report)
    assert v["zero-gradients"] == "fail"
    zero = next(c for c in report.checks if c.key == "zero-gradients")
    assert zero.evidence["fraction"] == 1.0
    # gradient-free attacks beat the (stuck) white-box PGD
    assert "fail" in (v["random-search"], v["white-vs-black-box"]), report.summary_lines()
    assert v["large-eps"] == "fail"  # PGD cannot move even with ε = 1
    assert v["randomized-output"] == v["probability-output"] == "pass"
    assert not report.passed


def test_saturated_softmax_output_is_flagged(normal_run, digits):
    x, _ = digits
    result = check_probability_output(SaturatedSoftmax(normal_run.model), x)
    assert result.verdict == "fail"
    assert result.evidence["max_row_sum_error"] < th.PROBABILITY_TOLERANCE
    assert check_probability_output(normal_run.model, x).verdict == "pass"


def test_log_probability_outputs_are_only_noted(normal_run, digits):
    x, _ = digits
    result = check_probability_output(nn.Sequential(normal_run.model, nn.LogSoftmax(1)), x)
    assert result.verdict == "pass" and result.evidence["log_probabilities"] is True


def test_randomized_model_is_flagged(normal_run, digits):
    x, _ = digits
    result = check_randomized_output(Noisy(normal_run.model), x)
    assert result.verdict == "fail"
    assert result.evidence["max_normalised_output_distance"] > th.RANDOMIZED_TOLERANCE
    assert check_randomized_output(normal_run.model, x).verdict == "pass"


def test_zero_gradient_fraction_counts_examples(normal_run, digits):
    x, y = digits
    assert check_zero_gradients(normal_run.model, x, y).evidence["zero_gradient_examples"] == 0
    assert check_zero_gradients(Quantized(normal_run.model), x[:7], y[:7]).evidence == {
        "zero_gradient_examples": 7,
        "n": 7,
        "fraction": 1.0,
    }


def test_transfer_check_is_skipped_without_proxy_and_model_mode_kept(pat_run, digits):
    model = pat_run.model.train()
    report = _audit(model, digits, checks=("white-vs-black-box", "fgsm-vs-pgd"))
    assert _verdicts(report) == {"white-vs-black-box": "skip", "fgsm-vs-pgd": "pass"}
    assert report.passed and model.training
    model.eval()


def test_unknown_check_is_an_error(pat_run, digits):
    with pytest.raises(UnknownNameError, match="valid: randomized-output"):
        _audit(pat_run.model, digits, checks=("nope",))


def test_report_json_and_markdown_list_every_verdict():
    report = AuditReport(
        [
            CheckResult("a", "first", "pass", "fine", {"x": 0.5}, "rule a"),
            CheckResult("b", "second", "fail", "broken", {"y": 1}),
            CheckResult("c", "third", "skip", "no proxy"),
        ],
        {"model": "digits/pat seed 0"},
    )
    d = report.to_dict()
    assert d["passed"] is False and d["failed"] == ["b"]
    assert [c["verdict"] for c in d["checks"]] == ["pass", "fail", "skip"]
    md = report.to_markdown()
    assert "Overall: FAIL (b)" in md and "| second | **fail** | broken |" in md
    assert report.summary_lines()[-1] == "audit FAILED: b"
    with pytest.raises(ValueError):
        CheckResult("z", "t", "maybe", "m")


def test_cli_audit_passes_honest_run_and_writes_reports(pat_run, normal_run, tmp_path, capsys):
    out = tmp_path / "audit"
    code = main(
        [
            "audit",
            "--run",
            str(pat_run.run_dir),
            "--proxy",
            str(normal_run.run_dir),
            "--out",
            str(out),
            "--test-size",
            "100",
            "--samples",
            "100",
            "--restarts",
            "1",
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "audit passed" in printed and "at ε = 32/255" in printed
    data = json.loads((out / "audit.json").read_text())
    assert data["passed"] is True and len(data["checks"]) == len(CHECK_KEYS)
    assert data["meta"]["defense"] == "pat" and data["meta"]["n"] == 100
    assert "# Gradient-masking audit: digits/pat seed 0" in (out / "audit.md").read_text()


def test_cli_audit_exits_1_and_names_failed_checks(pat_run, tmp_path, capsys, monkeypatch):
    import entrobust.audit as audit_pkg

    def fake_audit(*args, **kwargs):
        return AuditReport([CheckResult("zero-gradients", "t", "fail", "all zero")], {})

    monkeypatch.setattr(audit_pkg, "run_audit", fake_audit)
    code = main(["audit", "--run", str(pat_run.run_dir), "--out", str(tmp_path), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1
    assert "audit FAILED: zero-gradients" in captured.out
    assert captured.err.strip() == "entrobust audit: failed checks: zero-gradients"
    assert (tmp_path / "audit.md").is_file()


def test_cli_audit_bad_eps_is_one_line_error(pat_run, capsys):
    try:  # refused at parse time (argparse exits 2) since options are checked before any work
        code = main(["audit", "--run", str(pat_run.run_dir), "--eps", "300"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eps" in err[0]


def test_adaptive_loss_warns_only_when_the_adaptive_attack_is_clearly_stronger(monkeypatch):
    from entrobust.audit import attack_checks
    from entrobust.audit.probe import AuditSettings

    class StubProbe:
        settings = AuditSettings(eps=8 / 255, restarts=1)

        def __init__(self, pgd_acc, adaptive_acc):
            self.accs = {"pgd": pgd_acc, "adaptive": adaptive_acc}

        def run(self, key, attack):
            assert key.startswith("adaptive") and attack.gammas[0] == 0.0
            return "adaptive"

        def pgd(self, steps):
            return "pgd"

        def accuracy(self, which):
            return self.accs[which]

    assert attack_checks.check_adaptive_loss(StubProbe(0.80, 0.79)).verdict == "pass"
    weak = attack_checks.check_adaptive_loss(StubProbe(0.82, 0.75))
    assert weak.verdict == "warn" and "report the adaptive number" in weak.message
    report = AuditReport([weak], {})
    assert report.passed and report.warned == ["adaptive-loss"]
    assert report.summary_lines()[-1] == "audit passed with warnings: adaptive-loss"
    assert report.to_dict()["warned"] == ["adaptive-loss"]


def test_check_registry_keeps_the_report_order_and_describes_every_check():
    from entrobust.audit import CHECKS, checks_in_order

    assert CHECK_KEYS == (
        "randomized-output",
        "probability-output",
        "zero-gradients",
        "white-vs-black-box",
        "random-search",
        "large-eps",
        "convergence",
        "fgsm-vs-pgd",
        "adaptive-loss",
    )
    assert [c.key for c in checks_in_order()] == list(CHECK_KEYS) and len(CHECKS) == 9
    assert all(c.description for c in CHECKS.values())
