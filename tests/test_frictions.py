"""Small frictions: the dry-run estimate names its device (and CPU-hours without a GPU), a
non-paper reproduce says so above Δ, multi-run analyses get their own folder."""

from __future__ import annotations

from pathlib import Path

import torch

from entrobust.analysis.pipelines import default_out_dir
from entrobust.bench.reproduce import comparison_markdown
from entrobust.bench.table import Table
from entrobust.cli.main import main


def test_dry_run_states_its_device_and_cpu_hours_without_gpu(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["reproduce", "--table", "9", "--profile", "quick", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "estimated GPU-hours on one A100/H100-class GPU, fp32:" in out
    assert "no GPU here: on this machine's CPU, roughly" in out and "CPU-hours" in out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert main(["reproduce", "--table", "9", "--profile", "quick", "--dry-run"]) == 0
    assert "no GPU here" not in capsys.readouterr().out


def test_non_paper_profile_is_stated_above_the_delta_column():
    table = Table("", [], ["pat"])
    quick = comparison_markdown(9, "mnist", table, profile="quick")
    head, _, rest = quick.partition("| mode | attack |")
    assert "Profile `quick` is not the paper's training" in head and rest
    assert "is not the paper's training" not in comparison_markdown(9, "mnist", table)


def test_analysis_over_several_runs_goes_to_a_folder_named_after_the_set(tmp_path):
    a, b = str(tmp_path / "runs" / "run-a"), str(tmp_path / "runs" / "run-b")
    assert default_out_dir([a, b]) == tmp_path / "runs" / "analysis" / "run-a+run-b"
    assert default_out_dir([a]) == Path(a) / "analysis"
    assert default_out_dir([a, b], out="x") == Path("x")
