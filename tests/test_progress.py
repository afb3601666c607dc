"""Progress: a bar on a terminal, a few whole log lines otherwise; ``entrobust --version``."""

from __future__ import annotations

import io

import pytest
from tqdm import tqdm

import entrobust
from entrobust.cli.main import main
from entrobust.progress import LogProgress, progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_not_carriage_returns_when_not_a_terminal():
    log = io.StringIO()
    with progress_bar(total=1000, desc="bench", unit="cell", file=log) as bar:
        for _ in range(1000):
            bar.update(1)
            bar.set_postfix_str("pat s0 white-box pgd10-8")
    text = log.getvalue()
    assert "\r" not in text and len(text.splitlines()) == 5 and len(text) < 1000
    assert text.splitlines()[-1].startswith("bench: 1000/1000 cell (100%)")


def test_terminal_gets_a_bar_and_nested_bars_are_silent_in_a_log():
    assert type(progress_bar(total=3, desc="x", file=_Tty())) is tqdm
    log = io.StringIO()
    with progress_bar(total=3, desc="inner", leave=False, file=log) as bar:
        bar.update(3)
    assert log.getvalue() == ""
    assert isinstance(progress_bar(total=3, desc="x", file=io.StringIO()), LogProgress)


def test_interrupted_loop_says_where_it_stopped():
    log = io.StringIO()
    with pytest.raises(KeyboardInterrupt), progress_bar(total=10, desc="t", file=log) as bar:
        bar.update(3)
        raise KeyboardInterrupt
    assert log.getvalue().splitlines()[-1].startswith("t: 3/10 it (30%) stopped after")


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"entrobust {entrobust.__version__}"
