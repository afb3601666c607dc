"""The command line: one clear error line and exit 2 on bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from entrobust.cli.main import main
from entrobust.training import make_config


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "entrobust", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_train_command_end_to_end_and_cached(tmp_path):
    args = (
        "train",
        "--dataset",
        "digits",
        "--defense",
        "entm",
        "--profile",
        "ci",
        "--epochs",
        "1",
        "--train-size",
        "60",
        "--test-size",
        "30",
        "--runs-dir",
        str(tmp_path),
        "--no-progress",
        "--device",
        "cpu",
    )
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "clean accuracy" in first.stdout
    run_dirs = list(tmp_path.iterdir())
    assert len(run_dirs) == 1
    files = {p.name for p in run_dirs[0].iterdir()}
    assert files == {"config.json", "final.pt", "metrics.json", ".lock"}  # .lock: one trainer
    second = run_cli(*args)
    assert "trained in" in first.stdout
    assert second.returncode == 0 and "cached run, not retrained" in second.stdout
    acc = first.stdout.split("clean accuracy ")[1].split("%")[0]
    assert f"clean accuracy {acc}%" in second.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--defense", "pat-foo"], "unknown defense 'pat-foo'; valid: adp, entm,"),
        (["--defense", "pat", "--at-eps", "8"], "8/255"),
        (["--defense", "pat", "--profile", "huge"], "unknown profile 'huge'; valid: ci, paper"),
        (["--defense", "pat", "--arch", "vgg"], "unknown arch 'vgg'"),
        (["--defense", "pat", "--epochs", "0"], "must be ≥ 1"),
        (["--defense", "pat", "--at-eps", "x/255"], "not a number or fraction"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, needle, capsys, tmp_path):
    try:
        code = main(["train", "--dataset", "digits", "--runs-dir", str(tmp_path), *argv])
    except SystemExit as exc:  # argparse's own type errors
        code = exc.code
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert needle in line


def test_argparse_errors_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "digits"])
    assert exc.value.code == 2
    assert "--defense" in _one_error_line(capsys.readouterr().err)


def test_missing_dataset_subprocess(tmp_path):
    result = run_cli(
        "train",
        "--dataset",
        "cifar10",
        "--defense",
        "pat",
        "--profile",
        "ci",
        "--data-dir",
        str(tmp_path / "nowhere"),
        "--runs-dir",
        str(tmp_path),
    )
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert "cifar10" in line and "--download" in line


def test_unknown_dataset_lists_names(capsys, tmp_path):
    assert (
        main(["train", "--dataset", "imagenet", "--defense", "pat", "--data-dir", str(tmp_path)])
        == 2
    )
    assert "digits" in _one_error_line(capsys.readouterr().err)


def test_corrupt_checkpoint_subprocess(tmp_path):
    cfg = make_config("digits", "normal", profile="ci")
    run_dir = tmp_path / cfg.run_name
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    result = run_cli(
        "train",
        "--dataset",
        "digits",
        "--defense",
        "normal",
        "--profile",
        "ci",
        "--runs-dir",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert "corrupt" in _one_error_line(result.stderr)
    assert (run_dir / "checkpoint.pt").read_bytes() == b"PK\x03\x04 truncated"


def test_list_command(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "pat-entm" in out and "digits" in out and "wrn34-10" in out


@pytest.mark.parametrize(
    ("attacks", "needle"),
    [("pgd10-800", "ε = 800/255 > 1"), ("pgd-ten", "valid forms"), ("fgsm8,bogus", "bogus")],
)
def test_attack_command_rejects_bad_attack_names(attacks, needle, capsys, tmp_path):
    cfg = make_config("digits", "normal", profile="ci", epochs=1, train_size=60, test_size=30)
    from entrobust.training import train

    run = train(cfg, runs_dir=tmp_path, progress=False, device="cpu")
    code = main(["attack", "--run", str(run.run_dir), "--attacks", attacks])
    assert code == 2
    assert needle in _one_error_line(capsys.readouterr().err)
    assert not (run.run_dir / "attacks.json").exists()


def test_attack_command_prints_and_saves(capsys, tmp_path):
    from entrobust.training import train

    cfg = make_config("digits", "normal", profile="ci", epochs=1, train_size=60, test_size=30)
    run = train(cfg, runs_dir=tmp_path, progress=False, device="cpu")
    assert (
        main(["attack", "--run", str(run.run_dir), "--attacks", "clean,pgd5-32", "--restarts", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "pgd5-32" in out and (run.run_dir / "attacks.json").is_file()
    assert main(["attack", "--run", str(tmp_path / "missing"), "--attacks", "clean"]) == 2


def test_training_overrides_are_the_config_fields_marked_overridable():
    """One source: each field with an ``Override`` becomes an option of train, bench and
    reproduce (the training batch size as ``--train-batch-size`` beside an attack batch size),
    parsed by the named argtypes parser, and lands in ``training_overrides`` under its name."""
    import argparse
    from dataclasses import fields

    from entrobust.cli import argtypes
    from entrobust.cli.options import add_train_overrides, training_overrides
    from entrobust.training.config import OVERRIDES, TrainConfig

    marked = [f for f in fields(TrainConfig) if "override" in f.metadata]
    assert tuple(f.name for f in marked) == OVERRIDES
    assert {"dataset", "defense", "seed", "profile", "augment"}.isdisjoint(OVERRIDES)
    for f in marked:
        o = f.metadata["override"]
        assert o.choices or callable(getattr(argtypes, o.parser)), f.name
        assert o.help, f.name

    p = argparse.ArgumentParser()
    add_train_overrides(p, batch_flag="--train-batch-size")
    args = p.parse_args(["--train-batch-size", "64", "--at-eps", "8/255", "--inner", "ce"])
    assert training_overrides(args) == {"batch_size": 64, "at_eps": 8 / 255, "inner": "ce"}
    with pytest.raises(SystemExit):
        p.parse_args(["--at-eps", "8"])  # a fraction, not k
    with pytest.raises(SystemExit):
        p.parse_args(["--batch-size", "64"])  # renamed where an attack batch size exists
