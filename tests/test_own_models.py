"""Models entrobust did not train: ``--model PKG.MODULE:FACTORY --weights FILE --dataset``
for ``attack`` and ``audit``, their one-line errors, and ``entrobust.load_run``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

import entrobust
from entrobust.cli.main import main

NETS = textwrap.dedent(
    """
    from torch import nn


    def small_cnn():
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10)
        )


    def broken():
        raise RuntimeError("no GPU here")


    def not_a_model():
        return 42
    """
)


@pytest.fixture
def own(tmp_path, monkeypatch) -> Path:
    """A folder with the user's ``nets.py`` and weights for ``nets:small_cnn``; cwd."""
    (tmp_path / "nets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    nets = importlib.import_module("nets")
    torch.manual_seed(0)
    model = nets.small_cnn()
    torch.save(model.state_dict(), tmp_path / "cnn.pt")
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "wrapped.pt")
    torch.save(model, tmp_path / "pickled.pt")  # a whole pickled module: refused
    torch.save({"other.weight": torch.zeros(2)}, tmp_path / "other.pt")
    yield tmp_path
    import sys

    sys.modules.pop("nets", None)


def test_attack_any_model_prints_and_saves_beside_the_weights(own, capsys):
    argv = ["attack", "--model", "nets:small_cnn", "--weights", "cnn.pt", "--dataset", "digits"]
    code = main([*argv, "--attacks", "clean,fgsm8", "--test-size", "60", "--restarts", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "nets:small_cnn with cnn.pt (white-box, n = 60)" in out.out
    saved = json.loads((own / "cnn.attacks.json").read_text())
    assert set(saved) == {"white-box:clean", "white-box:fgsm8"}
    assert saved["white-box:fgsm8"]["accuracy"] <= saved["white-box:clean"]["accuracy"]
    # progress went to stderr as a few whole lines (not a terminal), no carriage returns
    assert "attack fgsm8: 1/1 batch (100%)" in out.err and "\r" not in out.err
    # the same weights wrapped in {"model": ...} give the same numbers
    assert (
        main([*argv[:4], "wrapped.pt", *argv[5:], "--attacks", "clean", "--test-size", "60"]) == 0
    )
    again = json.loads((own / "wrapped.attacks.json").read_text())
    assert again["white-box:clean"]["accuracy"] == saved["white-box:clean"]["accuracy"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--model", "nets.small_cnn", "--dataset", "digits"], "is not package.module:factory"),
        (["--model", "nets:nope", "--dataset", "digits"], "nets has no nope"),
        (["--model", "nowhere:f", "--dataset", "digits"], "cannot import nowhere"),
        (["--model", "nets:broken", "--dataset", "digits"], "raised RuntimeError: no GPU here"),
        (["--model", "nets:not_a_model", "--dataset", "digits"], "returned int, not a torch"),
        (["--model", "nets:small_cnn"], "--model needs --dataset"),
        (
            ["--model", "nets:small_cnn", "--weights", "pickled.pt", "--dataset", "digits"],
            "is not a weights-only checkpoint",
        ),
        (
            ["--model", "nets:small_cnn", "--weights", "other.pt", "--dataset", "digits"],
            "do not fit nets:small_cnn: missing 0.weight, 0.bias, 3.weight (+1 more)",
        ),
        (
            ["--model", "torch.nn:Identity", "--dataset", "digits"],
            "expected logits of shape (2, 10)",
        ),
        (["--run", "somewhere", "--weights", "cnn.pt"], "--weights goes with --model"),
    ],
)
def test_model_errors_are_one_line_exit_2(own, capsys, argv, needle):
    for command in ("attack", "audit"):
        code = main([command, *argv])
        err = capsys.readouterr().err
        assert code == 2, err
        assert needle in err and err.count("\n") == 1, err


def test_run_and_model_are_exclusive(own, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["attack", "--run", "r", "--model", "nets:small_cnn", "--dataset", "digits"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_audit_any_model_writes_beside_the_weights(own, capsys):
    code = main(
        [
            "audit",
            "--model",
            "nets:small_cnn",
            "--weights",
            "cnn.pt",
            "--dataset",
            "digits",
            "--test-size",
            "40",
            "--checks",
            "probability-output,fgsm-vs-pgd",
            "--restarts",
            "1",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "PASS  probability-output   logits, not probabilities" in out.out
    report = json.loads((own / "cnn-audit" / "audit.json").read_text())
    assert report["meta"]["model"] == "nets:small_cnn with cnn.pt"
    assert "audit: 2/2 check (100%)" in out.err


def test_load_run_is_public():
    assert entrobust.load_run is entrobust.training.load_run
    assert "load_run" in entrobust.__all__
