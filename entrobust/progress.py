"""One progress display for every long loop (training, bench, attacks, AutoAttack, audit).

On a terminal it is a tqdm bar. When stderr is not a terminal (a log file, CI, a cluster job)
a bar's ``\\r`` redraws would pile up kilobytes of half-lines, so the same call gives a few
whole log lines instead: one when the loop starts, one each time another quarter is done and
one at the end. Nested bars (``leave=False``, e.g. AutoAttack's attacks inside a bench cell)
are shown on a terminal only; in a log, the outer loop's lines say enough.

Example:
    >>> import io
    >>> log = io.StringIO()  # not a terminal
    >>> with progress_bar(total=8, desc="attack pgd10-8", unit="batch", file=log) as bar:
    ...     for _ in range(8):
    ...         _ = bar.update(1)
    >>> print(log.getvalue().strip())
    attack pgd10-8: 0/8 batch
    attack pgd10-8: 2/8 batch (25%)
    attack pgd10-8: 4/8 batch (50%)
    attack pgd10-8: 6/8 batch (75%)
    attack pgd10-8: 8/8 batch (100%) in 0s

A resumed loop that is already complete (a finished bench run again) says so in one line:

    >>> log = io.StringIO()
    >>> with progress_bar(total=4, initial=4, desc="bench", unit="cell", file=log):
    ...     pass
    >>> print(log.getvalue().strip())
    bench: 4/4 cell (100%) in 0s
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from tqdm import tqdm

#: In a log, a line each time this fraction of the loop more is done.
LOG_STEP = 0.25


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal (False when unknown)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class LogProgress(tqdm):
    """A tqdm whose display is whole lines at 0, 25, 50, 75 and 100 % (for non-terminals).

    Everything else (``update``, ``set_postfix_str``, ``n``, ``total``, context manager) is
    tqdm's, so code written for a bar works unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._next_fraction = 0.0
        self._finished = False
        self._t0 = time.time()  # tqdm draws (and may finish) inside its __init__, before start_t
        kwargs.update(mininterval=0, miniters=1, dynamic_ncols=False)
        super().__init__(*args, **kwargs)

    def _line(self) -> str:
        total = f"/{self.total:g}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total and self.n else ""
        post = f" [{self.postfix}]" if self.postfix else ""
        return f"{self.desc or 'progress'}: {self.n:g}{total} {self.unit}{pct}{post}"

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg is not None or self._finished:  # a clear request or after the last line
            return False
        fraction = self.n / self.total if self.total else 0.0
        done = bool(self.total) and self.n >= self.total
        if done or fraction >= self._next_fraction:
            line = self._line()
            if done:
                self._finished = True
                line += f" in {time.time() - self._t0:.0f}s"
            self.fp.write(line + "\n")
            self.fp.flush()
            step = int(fraction / LOG_STEP) + 1
            self._next_fraction = step * LOG_STEP
        return True

    def close(self) -> None:
        if not self.disable and not self._finished and self.n:
            self._finished = True
            how = "in" if not self.total or self.n >= self.total else "stopped after"
            self.fp.write(f"{self._line()} {how} {time.time() - self._t0:.0f}s\n")
            self.fp.flush()
        self.leave = False  # tqdm's close would redraw and add a newline
        self._finished = True
        super().close()


def progress_bar(
    *,
    total: float | None,
    desc: str,
    unit: str = "it",
    disable: bool = False,
    initial: float = 0,
    leave: bool = True,
    file: IO[str] | None = None,
) -> tqdm:
    """A progress display: a tqdm bar on a terminal, a few log lines otherwise.

    Args:
        total: the number of steps (``None``: unknown, a line at start and end only).
        desc: what is running, e.g. ``"bench"`` or ``"attack pgd40-8"``.
        unit: what a step is (``"batch"``, ``"cell"``, ``"attack"``).
        disable: show nothing (the caller asked for no progress).
        initial: steps already done (a resumed loop).
        leave: keep the finished bar; ``False`` for nested bars, which a log does not show.
        file: where to write (default ``sys.stderr``, read at call time).

    Example:
        >>> import io
        >>> log = io.StringIO()
        >>> with progress_bar(total=3, desc="quiet", disable=True, file=log) as bar:
        ...     bar.update(3)
        >>> log.getvalue()
        ''
    """
    stream = sys.stderr if file is None else file
    if not disable and is_terminal(stream):
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            initial=initial,
            leave=leave,
            file=stream,
            dynamic_ncols=True,
        )
    if disable or not leave:
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=True)
    return LogProgress(total=total, desc=desc, unit=unit, initial=initial, file=stream)


__all__ = ["LOG_STEP", "LogProgress", "is_terminal", "progress_bar"]
