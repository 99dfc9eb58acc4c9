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
# It holds the input's name and the messages said about it: each is said once per input,
# though each look at the image (and each detector) may meet the same cause.
_current: contextvars.ContextVar[tuple[str, set] | None] = contextvars.ContextVar("maskhog_input",
                                                                                   default=None)


class _NameInput(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = _current.get()
        if current is None or getattr(record, "named", False):
            return True
        name, said = current
        text = record.getMessage()
        if text in said:
            return False
        said.add(text)
        record.msg, record.args, record.named = f"{name}: {text}", None, True
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
    """Within this block, messages on the ``maskhog`` logger begin with ``name``,
    and each is said once."""
    token = _current.set((name, set()))
    try:
        yield
    finally:
        _current.reset(token)
