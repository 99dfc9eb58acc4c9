"""How the library speaks: warnings on the ``maskhog`` logger, naming the input they concern.

Library code logs to ``logging.getLogger("maskhog")`` and never prints. The
command line (and each worker process of a batch) sends that logger to stderr
with :func:`to_stderr`. While an input is worked on, :func:`about` makes every
message name it, so ``image of 9000x7000 pixels shrunk ...`` says which image.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys

__all__ = ["log", "to_stderr", "about"]

log = logging.getLogger("maskhog")

# A context variable, not a global: live's threads each work on their own frame.
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("maskhog_input", default=None)


class _NameInput(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        name = _current.get()
        if name is not None and not getattr(record, "named", False):
            record.msg, record.named = f"{name}: {record.msg}", True
        return True


log.addFilter(_NameInput())


class _Stderr(logging.StreamHandler):
    """The stderr of the moment, not of when the handler was made (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def to_stderr(level: int = logging.INFO) -> None:
    """Show the library's messages on stderr as ``maskhog: message`` (once per process)."""
    if not any(getattr(h, "maskhog", False) for h in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("maskhog: %(message)s"))
        handler.maskhog = True
        log.addHandler(handler)
        log.propagate = False   # said once, not again by a root handler
    log.setLevel(level)


@contextlib.contextmanager
def about(name: str):
    """Within this block, messages on the ``maskhog`` logger begin with ``name``."""
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)
