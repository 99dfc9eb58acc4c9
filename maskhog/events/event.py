"""The event record: what happened to whom, where and when.

One event per person and change of state, never per frame. A record is a
plain dict, so every sink writes the same thing and JSON is one call away.

================  =======================================================
``event_id``      a random UUID (hex): receivers drop a record they already
                  have, so a record sent again after a lost acknowledgement
                  is still kept once
``time``          UTC, ISO 8601 with milliseconds (``2026-12-07T09:30:01.250Z``)
``camera``        the camera's name
``location``      where the camera is (a door, a corridor)
``track_id``      the person, as followed by the live loop (per camera and run)
``event``         ``appeared``, ``changed``, ``left``, ``allow``, ``deny`` or ``alert``
``label``         ``with_mask``, ``without_mask`` or ``incorrect_mask``
``score``         the classifier's score for that label
``face_px``       the face's width in pixels
``box``           ``[x1, y1, x2, y2]`` in the frame
``frame``         the index of the frame the verdict was made on
``snapshot``      a saved image's path, or ``None`` (none is saved by default)
================  =======================================================
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

__all__ = ["EVENT_KINDS", "FIELDS", "make_event", "utc_now", "utc_text"]

EVENT_KINDS = ("appeared", "changed", "left", "allow", "deny", "alert")
FIELDS = ("event_id", "time", "camera", "location", "track_id", "event", "label", "score",
          "face_px", "box", "frame", "snapshot")


def utc_text(moment: datetime) -> str:
    """``moment`` as an event's ``time`` holds it: UTC ISO 8601 with milliseconds and a ``Z``
    (text that sorts as time does, so SQLite compares it as it is)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as :func:`utc_text` writes it."""
    return utc_text(datetime.now(timezone.utc))


def make_event(kind: str, *, track_id: int, label: str | None, score: float, box, camera: str,
               location: str, frame: int | None = None, time: str | None = None,
               snapshot: str | None = None) -> dict:
    """An event record with every field of :data:`FIELDS`.

    Parameters
    ----------
    kind : {'appeared', 'changed', 'left', 'allow', 'deny', 'alert'}
    box : sequence of 4 ints
        ``(x1, y1, x2, y2)`` in the frame.
    time : str, optional
        ISO 8601 UTC; default: now.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event {kind!r}: one of {', '.join(EVENT_KINDS)}")
    x1, y1, x2, y2 = (int(v) for v in box)
    return {"event_id": uuid.uuid4().hex, "time": time or utc_now(), "camera": camera,
            "location": location, "track_id": int(track_id), "event": kind, "label": label,
            "score": round(float(score), 4), "face_px": x2 - x1, "box": [x1, y1, x2, y2],
            "frame": frame, "snapshot": snapshot}
