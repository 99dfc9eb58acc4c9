"""Where images come from: command-line inputs, video files, cameras and streams.

Every frame comes out as 8-bit BGR. A source that cannot be opened raises
:class:`~maskhog.io.images.ImageError` naming it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageError, read_image, to_bgr

__all__ = ["expand_inputs", "video_frames", "open_source"]


def expand_inputs(inputs, *, stdin=None) -> list[str]:
    """Image paths from command-line inputs, in the order given.

    A folder gives its image files (recursively, sorted); a pattern with
    ``*``, ``?`` or ``[`` gives its matches (sorted; ``**`` recurses); ``-``
    gives one path per line of ``stdin``; anything else is taken as a file
    path as it is (a missing file is reported when it is read).
    """
    import glob

    paths = []
    for item in inputs:
        if item == "-":
            paths += [line.strip() for line in (stdin or []) if line.strip()]
        elif Path(item).is_dir():
            paths += sorted(str(p) for p in Path(item).rglob("*")
                            if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and p.is_file())
        elif any(ch in item for ch in "*?["):
            paths += sorted(p for p in glob.glob(item, recursive=True)
                            if Path(p).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                            and Path(p).is_file())
        else:
            paths.append(item)
    return paths


def video_frames(path, *, every: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Yield ``(index, frame)`` for every ``every``-th frame of a video file, BGR uint8.

    Raises
    ------
    ImageError
        The file is missing, is not a video OpenCV can open, or has no frame.
    """
    import cv2

    name = os.fspath(path)
    if not Path(name).is_file():
        raise ImageError(f"{name}: no such file")
    cap = cv2.VideoCapture(name)
    try:
        if not cap.isOpened():
            raise ImageError(f"{name}: not a video file OpenCV can read")
        index, seen = 0, 0
        while True:
            ok = cap.grab()   # grab without decoding the frames we skip
            if not ok:
                break
            if index % every == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    if frame.shape[0] * frame.shape[1] > max_pixels:
                        raise ImageError(f"{name}: frames of {frame.shape[1]}x{frame.shape[0]} are "
                                         f"over the limit of {max_pixels:,} pixels")
                    seen += 1
                    yield index, to_bgr(frame)
            index += 1
        if seen == 0:
            raise ImageError(f"{name}: no frame could be read")
    finally:
        cap.release()


def open_source(source: str, *, reconnect: int = 3):
    """Frames of a webcam index, a video file or stream URL, or a folder of images.

    Returns ``(frames, is_live, fps)``: an iterator of BGR frames, whether the
    source is live (camera or stream), and its frame rate if known. A live
    source that drops is reopened up to ``reconnect`` times with backoff.

    Raises
    ------
    ImageError
        A missing file or folder, or a source OpenCV cannot open.
    """
    import cv2

    if Path(source).is_dir():
        files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ImageError(f"{source}: no images in this folder")

        def folder():
            for p in files:
                try:
                    yield read_image(p)
                except ImageError:
                    continue
        return folder(), False, 0.0
    live = source.isdigit() or "://" in source
    if not live and not Path(source).is_file():
        raise ImageError(f"{source}: no such file")
    target = int(source) if source.isdigit() else source
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        what = "camera" if source.isdigit() else "video or stream"
        raise ImageError(f"{source}: cannot open this {what}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0

    def frames():
        nonlocal cap
        attempts = 0
        try:
            while True:
                ok, frame = cap.read()
                if ok and frame is not None:
                    attempts = 0
                    yield frame
                    continue
                if not live or attempts >= reconnect:
                    if live:
                        raise ImageError(f"{source}: stream lost after {reconnect} reconnect attempts")
                    return
                attempts += 1
                time.sleep(min(8.0, 0.5 * 2 ** attempts))   # back off, then reopen
                cap.release()
                cap = cv2.VideoCapture(target)
        finally:
            cap.release()
    return frames(), live, fps
