"""Events: one record per person and change of state, and the places they are kept.

=================  ==========================================================
:mod:`.event`      :func:`make_event`, the record, and its fields
:mod:`.schema`     the table events are kept in, for SQLite and PostgreSQL
:mod:`.sinks`      :func:`open_sink`: ``sqlite://``, ``jsonl://``, ``-`` and the
                   queued ones (``mqtt://``, ``http(s)://``, ``postgresql://``)
:mod:`.queue`      the on-disk queue that keeps events while a service is away
:mod:`.gate`       access decisions (allow / deny) and alerts with a cooldown
:mod:`.actions`    a command run per decision
=================  ==========================================================

Events flow one way: the live loop's track changes become event records
(:func:`make_event`), the gate adds decisions and alerts, and :class:`Fanout`
hands each record to every sink.
"""

from .event import EVENT_KINDS, FIELDS, make_event
from .sinks import Fanout, SinkError, open_sink

__all__ = ["EVENT_KINDS", "FIELDS", "Fanout", "SinkError", "make_event", "open_sink"]
