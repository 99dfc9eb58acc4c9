"""`maskhog live --record FILE`: what the live window shows, kept as a video file."""

from __future__ import annotations

import time

from ..io.video_out import VideoOut
from .preview import window_image

__all__ = ["Recording"]


class Recording:
    """The window's frames (boxes, labels, frame rate) written to ``path``.

    A video file read as fast as it goes is recorded frame by frame at its own
    rate, so the recording lasts as long as the video. A camera or stream is
    recorded by the clock: at ``fps`` frames of wall-clock time, the last
    frame repeated while the loop is busy and frames dropped when it runs
    ahead, so the recording plays at the speed it was seen. A stall longer
    than ``max_hold`` seconds is cut short, not filled with one still frame.

    Parameters
    ----------
    path : str or Path
        ``.mkv`` (still plays if the run is killed), ``.mp4`` or ``.avi``.
    fps : float
        The recording's frame rate.
    paced : bool
        Record by the clock (cameras, streams, ``--realtime``) rather than frame by frame.
    """

    def __init__(self, path, fps: float, *, paced: bool, max_hold: float = 2.0, clock=time.monotonic):
        self.video = VideoOut(path, fps)
        self.paced, self.max_hold, self.clock = paced, max_hold, clock
        self._start = None
        self._due = 0   # frames the clock says should be written by now

    def add(self, frame, tracks, fps: float) -> None:
        """One frame the loop processed, with the tracks it shows and its frames per second."""
        if not self.paced:
            self.video.write(window_image(frame, tracks, fps))
            return
        now = self.clock()
        if self._start is None:
            self._start = now
        due = int((now - self._start) * self.video.fps) + 1
        copies = min(due - self._due, max(1, int(self.max_hold * self.video.fps)))
        if copies <= 0:
            return   # ahead of the clock: this frame falls between two of the recording's
        image = window_image(frame, tracks, fps)
        for _ in range(copies):
            self.video.write(image)
        self._due = due

    def close(self) -> None:
        self.video.close()
