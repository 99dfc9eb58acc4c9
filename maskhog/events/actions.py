"""Actions per decision: a command run for each ``allow``, ``deny`` or ``alert``.

A command is an argument list run without a shell, so an event's fields can
never be read as shell syntax. ``{field}`` in an argument becomes that field
of the event (``{track_id}``, ``{label}``, ``{camera}``...); the whole event
is also on the command's stdin as one JSON line. Commands run beside the live
loop, never holding it up; one still running after ``timeout`` seconds is
stopped.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import threading

from .event import FIELDS
from .sinks import Sink, SinkError

__all__ = ["CommandAction"]

logger = logging.getLogger("maskhog.events")


class CommandAction(Sink):
    """Run ``argv`` once per event it is given.

    Parameters
    ----------
    argv : list of str or str
        The command; a string is split as a shell would split it (quotes
        kept together), but no shell runs it.
    """

    def __init__(self, argv, timeout: float = 30.0):
        self.argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if not self.argv:
            raise SinkError("an empty command")
        self.url, self.timeout = shlex.join(self.argv), timeout
        self._threads: list[threading.Thread] = []
        self.returncodes: list[int] = []

    def command(self, event: dict) -> list[str]:
        """The argument list for an event, its ``{field}`` placeholders filled in."""
        out = []
        for arg in self.argv:
            for name in FIELDS:
                if "{" + name + "}" in arg:
                    value = event.get(name)
                    arg = arg.replace("{" + name + "}", json.dumps(value) if isinstance(value, list)
                                      else "" if value is None else str(value))
            out.append(arg)
        return out

    def write(self, event):
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._run, args=(self.command(event), json.dumps(event)),
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run(self, argv, payload):
        try:
            done = subprocess.run(argv, input=payload + "\n", text=True, timeout=self.timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.returncodes.append(done.returncode)
            if done.returncode:
                logger.warning("%s exited with %d: %s", argv[0], done.returncode, done.stderr.strip()[-200:])
        except FileNotFoundError:
            logger.warning("%s: no such command", argv[0])
        except subprocess.TimeoutExpired:
            logger.warning("%s still ran after %g s: stopped", argv[0], self.timeout)

    def close(self):
        for thread in self._threads:
            thread.join()
