"""What a running sweep shows: a rich progress line on a terminal, plain lines elsewhere.

On a terminal the line fits the width it is given (80 columns drop the bar and shorten the
name, never the numbers). Under ``nohup``, a pipe or a log file there is no terminal to
redraw, so a plain line is written every ``DSE_PROGRESS_EVERY_S`` seconds (default 30) and
once at the end: trials, rate, feasible share, Pareto front size, elapsed time.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

DEFAULT_EVERY_S = 30.0
WIDE = 110  # below this many columns the bar and the time remaining are left out


@dataclass
class Snapshot:
    """The numbers one progress report shows."""

    name: str
    done: int
    total: int | None
    rate: float
    feasible: float  # share of done
    pareto: int
    elapsed_s: float


Update = Callable[[Snapshot], None]


def plain_line(s: Snapshot) -> str:
    """One log line, e.g. ``progress gpt2: 1,200/2,000 trials (60%), 850 trials/s, ...``."""
    of = f"/{s.total:,}" if s.total else ""
    share = f" ({s.done / s.total:.0%})" if s.total else ""
    minutes, seconds = divmod(int(s.elapsed_s), 60)
    return (
        f"progress {s.name}: {s.done:,}{of} trials{share}, {s.rate:,.0f} trials/s, "
        f"feasible {s.feasible:.1%}, Pareto front {s.pareto}, {minutes}:{seconds:02d} elapsed"
    )


def columns(width: int) -> list[ProgressColumn]:
    """The progress columns for a terminal ``width`` wide (80 columns fit every number)."""
    name = 40 if width >= WIDE else max(8, width - 60)
    cols: list[ProgressColumn] = [
        TextColumn(f"[bold]{{task.description:.{name}}}"),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.0f}/s"),
        TextColumn("feas {task.fields[feasible]:>4.0%}"),
        TextColumn("front {task.fields[pareto]:>3d}"),
        TimeElapsedColumn(),
    ]
    if width >= WIDE:
        cols[1:1] = [BarColumn()]
        cols.append(TimeRemainingColumn())
    return cols


@contextlib.contextmanager
def progress_display(
    name: str,
    total: int | None,
    done: int,
    enabled: bool = True,
    stream: IO[str] | None = None,
    every_s: float | None = None,
) -> Iterator[Update]:
    """Yield ``update(snapshot)``: a rich line on a terminal, plain lines otherwise."""
    if not enabled:
        yield lambda s: None
        return
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        yield from _rich(name, total, done, out)
        return
    if every_s is None:
        every_s = float(os.environ.get("DSE_PROGRESS_EVERY_S", DEFAULT_EVERY_S))
    last: list[Snapshot] = []
    next_at = [time.monotonic() + every_s]

    def update(s: Snapshot) -> None:
        last[:] = [s]
        if time.monotonic() >= next_at[0]:
            print(plain_line(s), file=out, flush=True)
            next_at[0] = time.monotonic() + every_s

    try:
        yield update
    finally:
        if last:
            print(plain_line(last[0]), file=out, flush=True)


def _rich(name: str, total: int | None, done: int, out: IO[str]) -> Iterator[Update]:
    console = Console(file=out, emoji=False, highlight=False)
    with Progress(*columns(console.width), console=console) as bar:
        task = bar.add_task(
            name.replace("[", r"\["), total=total, completed=done, rate=0.0, feasible=0.0, pareto=0
        )

        def update(s: Snapshot) -> None:
            bar.update(task, completed=s.done, rate=s.rate, feasible=s.feasible, pareto=s.pareto)

        yield update
