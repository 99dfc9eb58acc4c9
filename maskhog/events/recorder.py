"""From the live loop to event records: track changes, gate decisions and alerts.

:class:`EventRecorder` gives :func:`maskhog.live.run_live` its ``on_event``
and ``on_verdict`` callbacks, turns what they report into event records
(:func:`.make_event`) for one camera, and hands each to its sinks.
"""

from __future__ import annotations

from .event import make_event
from .gate import UNMASKED, AlertCooldown, Gate

__all__ = ["EventRecorder"]


class EventRecorder:
    """Event records for one camera.

    Parameters
    ----------
    sink : object with ``write(event)``
        Usually a :class:`.Fanout`.
    gate : Gate, optional
        Add ``allow`` / ``deny`` events.
    alerts : AlertCooldown, optional
        Add an ``alert`` when a person's label becomes an unmasked one.
    """

    def __init__(self, sink, *, camera: str = "camera", location: str = "default",
                 gate: Gate | None = None, alerts: AlertCooldown | None = None):
        self.sink, self.camera, self.location = sink, camera, location
        self.gate, self.alerts = gate, alerts
        self.seen_faces = 0

    def _write(self, kind, track_id, label, score, box, frame):
        self.sink.write(make_event(kind, track_id=track_id, label=label, score=score, box=box,
                                   camera=self.camera, location=self.location, frame=frame))

    def on_event(self, record: dict) -> None:
        """A live-loop event (``appeared`` / ``changed`` / ``left``)."""
        kind, track = record["event"], record["track"]
        if kind == "appeared":
            self.seen_faces += 1
        self._write(kind, track, record["label"], record["score"], record["box"], record["frame"])
        if kind == "left":
            if self.gate is not None:
                self.gate.forget(track)
        elif (self.alerts is not None and record["label"] in UNMASKED
              and self.alerts.allows(self.camera, track)):
            self._write("alert", track, record["label"], record["score"], record["box"], record["frame"])

    def on_verdict(self, track, label: str, score: float, frame: int) -> None:
        """One classifier verdict on a track (the gate counts every one)."""
        if self.gate is not None:
            decision = self.gate.verdict(track.id, label)
            if decision:
                self._write(decision, track.id, label, score, track.box, frame)

    def close(self) -> None:
        """Close the sinks (queued ones send what they can first)."""
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
