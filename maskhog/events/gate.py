"""Decisions on people: the access gate (allow / deny) and alerts with a cooldown.

The gate looks at every verdict on a track, not at the smoothed label: a door
should open only for a face seen masked K times in a row, and a single verdict
should neither open nor close it. Alerts look at the smoothed label: a
person whose label becomes ``without_mask`` or ``incorrect_mask`` raises one
alert, and not another for ``cooldown`` seconds, however their label
flickers meanwhile.
"""

from __future__ import annotations

import re
import time

__all__ = ["Gate", "AlertCooldown", "parse_duration", "UNMASKED"]

UNMASKED = ("without_mask", "incorrect_mask")


class Gate:
    """Per track: ``allow`` after ``frames`` consecutive ``with_mask`` verdicts, ``deny`` after
    ``frames`` consecutive ``without_mask`` or ``incorrect_mask`` ones.

    A track gets a decision once, and another only when the other kind of
    verdict has then run ``frames`` times (a person who takes their mask off
    at the door is denied after being allowed).
    """

    def __init__(self, frames: int = 3):
        if frames < 1:
            raise ValueError("the gate needs at least 1 verdict")
        self.frames = frames
        self._runs: dict = {}       # track -> (decision the run points to, its length)
        self._decided: dict = {}    # track -> the last decision made

    def verdict(self, track, label: str) -> str | None:
        """Count one verdict on ``track``; return ``'allow'`` or ``'deny'`` when it decides."""
        wants = "allow" if label == "with_mask" else "deny"
        kind, run = self._runs.get(track, (wants, 0))
        run = run + 1 if kind == wants else 1
        self._runs[track] = (wants, run)
        if run >= self.frames and self._decided.get(track) != wants:
            self._decided[track] = wants
            return wants
        return None

    def pending(self, track) -> tuple[str, int] | None:
        """The decision ``track``'s current run of verdicts points to and its length, if undecided."""
        if track in self._decided or track not in self._runs:
            return None
        return self._runs[track]

    def forget(self, track) -> None:
        """The track left: drop what was counted for it."""
        self._runs.pop(track, None)
        self._decided.pop(track, None)


class AlertCooldown:
    """At most one alert per camera and track in any ``seconds``, and, when ``per_camera``
    is above 0, at most one per camera in any ``per_camera`` seconds, whoever it is about.

    The camera's limit is for a crowded corridor, where one alarm per person is too many,
    and for a person the tracker loses and finds again under a new track.
    """

    def __init__(self, seconds: float, per_camera: float = 0.0, clock=time.monotonic):
        self.seconds, self.per_camera, self.clock = seconds, per_camera, clock
        self._last: dict = {}
        self._camera_last: dict = {}

    def allows(self, camera: str, track) -> bool:
        """Whether an alert for this person may go out now (and if so, count it)."""
        now = self.clock()
        last = self._last.get((camera, track))
        if last is not None and now - last < self.seconds:
            return False
        last = self._camera_last.get(camera)
        if self.per_camera > 0 and last is not None and now - last < self.per_camera:
            return False
        self._last[(camera, track)] = self._camera_last[camera] = now
        return True


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``'30s'``, ``'2m'``, ``'500ms'``, ``'1h'`` or a plain number of seconds.

    Raises
    ------
    ValueError
        Anything else, or a negative duration.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h)?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration (like 30s, 2m, 500ms)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
