"""The ``entrobust`` command: subcommands, and one clear error line instead of a traceback."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from entrobust.cli import (
    analyze_cmd,
    attack_cmd,
    audit_cmd,
    bench_cmd,
    list_cmd,
    regress_cmd,
    reproduce_cmd,
    train_cmd,
)
from entrobust.errors import EntrobustError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="entrobust",
        description="Uncertainty-promoting regularizers in adversarial training, evaluated "
        "under strong attacks.",
    )
    from entrobust import __version__

    parser.add_argument("--version", action="version", version=f"entrobust {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (
        train_cmd,
        attack_cmd,
        bench_cmd,
        reproduce_cmd,
        analyze_cmd,
        audit_cmd,
        regress_cmd,
        list_cmd,
    ):
        module.register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one line each, no source excerpt."""
    return f"entrobust: warning: {category.__name__}: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m entrobust``."""
    warnings.formatwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EntrobustError as err:
        sys.stderr.write(f"entrobust: error: {err}\n")
        return 2
    except OSError as err:  # the file system refused: one line naming the file, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        sys.stderr.write(f"entrobust: error: {where}{err.strerror or err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("entrobust: interrupted; rerun the same command to resume\n")
        return 130
