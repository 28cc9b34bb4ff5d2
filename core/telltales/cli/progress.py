"""Progress on a terminal: one bar, the same for every long command.

A bar goes to standard error, and only when standard error is a terminal (and not
under CI): a pipe, a log file or a captured run gets no control characters, and
standard output keeps only the command's answer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click


def on_terminal() -> bool:
    """Whether a person watches standard error: a terminal, and not a CI job's log."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; a bar of ``total`` steps on a terminal, nothing elsewhere.

    ``total`` None (a size not known in advance, as of a pipe) shows nothing either.
    """
    hidden = total is None or not on_terminal()
    with click.progressbar(length=total or 0, label=label, file=sys.stderr, hidden=hidden) as bar:
        yield bar.update
