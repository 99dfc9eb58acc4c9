"""Where images come from: command-line inputs, video files, cameras and streams.

Every frame comes out as 8-bit BGR. A source that cannot be opened raises
:class:`~maskhog.io.images.ImageError` naming it. A camera or stream that is
down, stalls or drops is reopened with backoff, as often as asked (for ever,
for a service); a video file that ends before the frames its header declares
says so.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..messages import log
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

    A file that ends well before the frame count its header declares (a
    truncated download or recording) is read to its end, with a warning.

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
                if ok and frame is not None and frame.size:
                    if frame.shape[0] * frame.shape[1] > max_pixels:
                        raise ImageError(f"{name}: frames of {frame.shape[1]}x{frame.shape[0]} are "
                                         f"over the limit of {max_pixels:,} pixels")
                    seen += 1
                    yield index, to_bgr(frame)
            index += 1
        if seen == 0:
            raise ImageError(f"{name}: no frame could be read")
        _check_length(name, index, cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def _check_length(name: str, frames: int, declared: float) -> None:
    """Warn when a video ended short of the frames its header declares."""
    # Containers round their count, and some count a frame that is never there.
    if declared > 0 and frames < declared - max(2, declared // 100):
        log.warning("%s: video ended after %d of the %d frames its header declares (truncated?)",
                    name, frames, int(declared))


#: Failed or empty reads in a row after which a camera or stream counts as dropped.
BAD_READS = 3


def open_source(source: str, *, retry: int | None = 3, max_wait: float = 8.0,
                timeout: float = 10.0, stop: threading.Event | None = None, capture=None):
    """Frames of a webcam index, a video file or stream URL, or a folder of images.

    Parameters
    ----------
    source : str
        A camera index (``"0"``), a video file, a stream URL (``rtsp://``,
        ``http://``) or a folder of images.
    retry : int or None
        For a camera or stream: how many times in a row to reopen it when it
        cannot be opened, stalls or drops (``None``: for ever, for services).
        The wait between tries doubles from 1 s up to ``max_wait``; a frame
        read starts the count again.
    max_wait : float
        The longest wait between two tries, in seconds.
    timeout : float
        Seconds a stream may take to open or to deliver a frame before it
        counts as dropped (streams read by FFmpeg).
    stop : threading.Event, optional
        Once set, the frames end and a wait between tries ends at once.
    capture : callable, optional
        ``capture(target)`` opens a source like :class:`cv2.VideoCapture`
        (tests put faults in through it).

    Returns
    -------
    frames, is_live, fps
        An iterator of BGR frames, whether the source is live (camera or
        stream), and its frame rate if known (0.0 if not).

    Raises
    ------
    ImageError
        A missing file or folder, a file OpenCV cannot open, or a camera or
        stream that could not be opened at all when ``retry`` is 0.
    """
    import cv2

    stop = stop or threading.Event()
    if Path(source).is_dir():
        files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ImageError(f"{source}: no images in this folder")

        def folder():
            for p in files:
                if stop.is_set():
                    return
                try:
                    yield read_image(p)
                except ImageError as exc:
                    log.warning("skipped %s", exc)
        return folder(), False, 0.0
    live = source.isdigit() or "://" in source
    if not live and not Path(source).is_file():
        raise ImageError(f"{source}: no such file")
    target = int(source) if source.isdigit() else source
    opener = capture or _opener(source, timeout)
    what = "camera" if source.isdigit() else "stream" if live else "video file"
    cap = opener(target)
    if not cap.isOpened():
        cap.release()
        if not live:
            raise ImageError(f"{source}: cannot open this video file")
        if retry == 0:
            raise ImageError(f"{source}: cannot open this {what}")
        cap = None   # down at start: the frames' reader waits for it to come up
    fps = (cap.get(cv2.CAP_PROP_FPS) or 0.0) if cap is not None else 0.0

    def frames():
        nonlocal cap
        tries, read, bad = 0, 0, 0
        try:
            while not stop.is_set():
                if cap is not None:
                    ok, frame = cap.read()
                    if ok and frame is not None and frame.size:
                        tries, read, bad = 0, read + 1, 0
                        yield frame
                        continue
                    if not live:
                        _check_length(source, read, cap.get(cv2.CAP_PROP_FRAME_COUNT))
                        return
                    bad += 1
                    if bad < BAD_READS:   # a camera's odd empty frame: read on
                        continue
                    cap.release()
                    cap, bad = None, 0
                if retry is not None and tries >= retry:
                    raise ImageError(f"{source}: {what} lost; gave up after {retry} tries to reopen it"
                                     if read else f"{source}: cannot open this {what} "
                                     f"({retry} tries)")
                tries += 1
                wait = min(max_wait, 2.0 ** (tries - 1))
                log.warning("%s: %s %s; trying again in %.0f s (try %d%s)", source, what,
                            "dropped" if read else "not there", wait, tries,
                            f" of {retry}" if retry is not None else "")
                if stop.wait(wait):
                    return
                cap = opener(target)
                if not cap.isOpened():
                    cap.release()
                    cap = None
        finally:
            if cap is not None:
                cap.release()
    return frames(), live, fps


def _opener(source: str, timeout: float):
    """How to open ``source``: streams with open and read timeouts, so a stalled one
    counts as dropped instead of blocking for ever."""
    import cv2

    if "://" not in source:
        return cv2.VideoCapture
    ms = int(timeout * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    return lambda target: cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
