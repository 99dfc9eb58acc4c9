"""Writing video: annotated copies of video files (`predict --annotate`) and `live --record`.

The encoders are those of OpenCV's own FFmpeg build, so nothing else needs
installing. Matroska (``.mkv``, MPEG-4 video) is the default because a file cut
short by a crash or ``kill -9`` still plays up to its last frames; an ``.mp4``
is unreadable until it is closed (its index is written last).
"""

from __future__ import annotations

import os
from pathlib import Path

from .images import ImageError

__all__ = ["VIDEO_OUT_SUFFIXES", "VideoOut", "AnnotatedVideo"]

#: The containers maskhog writes, with the codec each gets.
VIDEO_OUT_SUFFIXES = {".mkv": "mp4v", ".mp4": "mp4v", ".avi": "MJPG"}


class VideoOut:
    """A video file written frame by frame; it opens on the first frame, whose size it takes.

    Parameters
    ----------
    path : str or Path
        ``.mkv``, ``.mp4`` or ``.avi``; missing folders are made.
    fps : float
        The rate the file plays at.

    Raises
    ------
    ImageError
        The suffix is not one of those above, or OpenCV cannot write the file.
    """

    def __init__(self, path, fps: float):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_OUT_SUFFIXES:
            raise ImageError(f"{self.path}: write video as {', '.join(VIDEO_OUT_SUFFIXES)} "
                             f"(.mkv still plays if the run is killed)")
        self.fourcc = VIDEO_OUT_SUFFIXES[suffix]
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.frames = 0
        self._writer = None
        self._size = None

    def write(self, frame) -> None:
        """Append one BGR frame; frames of another size than the first are resized to it."""
        import cv2

        if self._writer is None:
            self._open(frame.shape[1], frame.shape[0])
        if (frame.shape[1], frame.shape[0]) != self._size:   # a stream that changed resolution
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        import cv2

        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(os.fspath(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps,
                                 (width, height))
        if not writer.isOpened():
            raise ImageError(f"{self.path}: OpenCV cannot write this video file "
                             f"(is the folder writable?)")
        self._writer, self._size = writer, (width, height)

    def close(self) -> None:
        """Finish the file (an ``.mp4`` gets its index); safe to call twice."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AnnotatedVideo:
    """A copy of a video file with the faces of the frames looked at drawn, held between them.

    `predict` looks at every N-th frame; this reads the file a second time,
    frame by frame, and draws on each frame the faces of the last frame looked
    at, so the copy plays at the original's rate with no frame left out. It
    works as the results come: memory holds one frame, whatever the length.

    Parameters
    ----------
    source : str
        The video file that was looked at.
    out : str or Path
        The annotated copy (see :class:`VideoOut`).
    """

    def __init__(self, source: str, out):
        import cv2

        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            raise ImageError(f"{source}: not a video file OpenCV can read")
        self._out = VideoOut(out, self._cap.get(cv2.CAP_PROP_FPS))
        self._next = 0        # index of the next frame to read from the source
        self._faces = []      # the faces drawn until the next frame looked at

    @property
    def path(self) -> Path:
        return self._out.path

    def show(self, index: int, faces) -> None:
        """The faces found on frame ``index``: write every frame up to it, then hold these."""
        self._copy(until=index)
        self._faces = list(faces)

    def close(self, finish: bool = True) -> int:
        """Write the frames after the last one looked at (unless not ``finish``: a stopped run)
        and close the file; return the frames written."""
        if self._cap is not None:
            if finish:
                self._copy(until=None)
            self._cap.release()
            self._cap = None
            self._out.close()
        return self._out.frames

    def _copy(self, until: int | None) -> None:
        """Write source frames from the current one up to ``until`` (excluded; None: the end)."""
        from .draw import draw_faces

        while until is None or self._next < until:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                break
            self._out.write(draw_faces(frame, self._faces))
            self._next += 1

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        self.close(finish=kind is None)
