"""From the live loop to event records: track changes, gate decisions and alerts.

:class:`EventRecorder` gives :func:`maskhog.live.run_live` its ``on_event``
and ``on_verdict`` callbacks, turns what they report into event records
(:func:`.make_event`) for one camera, and hands each to its sinks.

With snapshots on, an event waits for its frame: the loop hands the frame
over (``on_frame``) at the end of the iteration that made the event, the
snapshot is saved, and only then is the event written, with the snapshot's
path. Events keep their order: while one waits, the ones after it wait too.
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
    snapshots : Snapshots, optional
        Save the frame of each event but ``left``.
    """

    def __init__(self, sink, *, camera: str = "camera", location: str = "default",
                 gate: Gate | None = None, alerts: AlertCooldown | None = None, snapshots=None):
        self.sink, self.camera, self.location = sink, camera, location
        self.gate, self.alerts, self.snapshots = gate, alerts, snapshots
        self.seen_faces = 0
        self._waiting: list[dict] = []   # events waiting for their frame (snapshots on)

    def _write(self, kind, track_id, label, score, box, frame):
        event = make_event(kind, track_id=track_id, label=label, score=score, box=box,
                           camera=self.camera, location=self.location, frame=frame)
        if self.snapshots is not None and (kind != "left" or self._waiting):
            self._waiting.append(event)
        else:
            self.sink.write(event)

    def on_frame(self, frame, tracks, fps=None) -> None:
        """The frame the loop just finished, with every track in it (labelled or not yet):
        save the snapshots of the events it made, every face blurred, then write those events."""
        waiting, self._waiting = self._waiting, []
        boxes = [t.box for t in tracks]
        for event in waiting:
            if event["event"] != "left":
                event["snapshot"] = self.snapshots.save(event, frame, boxes + [event["box"]])
            self.sink.write(event)

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
        """Write what still waits (no frame came for it), then close the sinks (queued
        ones send what they can first)."""
        waiting, self._waiting = self._waiting, []
        for event in waiting:
            self.sink.write(event)
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
