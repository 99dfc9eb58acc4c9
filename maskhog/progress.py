"""Progress, stage timings and summary lines on stderr, for long commands.

stdout carries data only; what a person watches goes to stderr, in the form
that suits where stderr goes:

* a terminal: a bar that redraws itself (:func:`click.progressbar`);
* a file or a pipe (a log, CI): a plain line every :data:`INTERVAL` seconds and
  one at the end, since a bar's carriage returns make a log unreadable;
* ``maskhog -q``: nothing; ``maskhog -v``: also each stage's time.

A command (or the library code it calls) uses three calls::

    from maskhog import progress

    with progress.stage("loading models"):      # -v: "loading models took 0.80 s"
        finder = MaskDetector()
    with progress.bar(len(paths), "predicting") as bar:
        for path in paths:
            ...
            bar.update(1)
    progress.say(summary.line())                 # silent under -q

The main command group sets the mode once with :func:`configure`.
"""

from __future__ import annotations

import contextlib
import sys
import time

import click

__all__ = ["INTERVAL", "bar", "silent", "configure", "say", "stage", "is_quiet", "is_verbose"]

#: Seconds between two plain progress lines when stderr is not a terminal.
INTERVAL = 5.0

_mode = {"quiet": False, "verbose": False}


def configure(*, quiet: bool = False, verbose: bool = False) -> None:
    """Set how much goes to stderr: ``quiet`` nothing but warnings, ``verbose`` stage times too."""
    _mode.update(quiet=quiet, verbose=verbose)


def is_quiet() -> bool:
    return _mode["quiet"]


def is_verbose() -> bool:
    return _mode["verbose"]


def say(message: str) -> None:
    """A line for the person watching (a summary, say), unless quiet."""
    if not _mode["quiet"]:
        click.echo(f"maskhog: {message}", err=True)


@contextlib.contextmanager
def stage(name: str):
    """Time the block; under ``-v`` say how long it took (also when it fails)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if _mode["verbose"]:
            click.echo(f"maskhog: {name} took {time.perf_counter() - start:.2f} s", err=True)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def silent(total: int, label: str):
    """Progress that shows nothing, in :func:`bar`'s form: the default of library code
    that takes a ``progress_factory``."""
    yield _Silent()


class _Lines:
    """Progress as a line every :data:`INTERVAL` seconds (read when it is due, so tests may change it)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.start = self.said = time.perf_counter()

    def line(self) -> str:
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"maskhog: {self.label}: {self.done}/{self.total}{share}, {time.perf_counter() - self.start:.0f} s"

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.said >= INTERVAL and self.done < self.total:
            self.said = now
            click.echo(self.line(), err=True)


@contextlib.contextmanager
def bar(total: int, label: str):
    """Progress over ``total`` steps, as a context manager whose value has ``update(n)``.

    Under ``-v`` the block's time is said at its end, as for :func:`stage`.
    """
    with stage(label):
        if _mode["quiet"]:
            yield _Silent()
        elif sys.stderr.isatty():
            with click.progressbar(length=total, label=label, file=sys.stderr) as shown:
                yield shown
        else:
            lines = _Lines(total, label)
            yield lines
            click.echo(lines.line(), err=True)
