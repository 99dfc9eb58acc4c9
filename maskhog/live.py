"""The real-time loop: frames in, per-person mask states and events out.

One loop for every source (webcam index, video file, stream URL, folder of
images). On a two-core machine the work is split so that nothing waits on
the camera:

* a capture thread reads frames; for cameras and streams (and files with
  ``realtime``) it keeps only the newest frame, so a slow loop drops frames
  instead of falling behind; a file is otherwise read frame by frame;
* faces are detected every ``detect_every`` frames on a frame shrunk by
  ``scale``; between detections the boxes hold still (or, with
  ``tracker="correlation"``, dlib's correlation tracker follows each person,
  at about 4 ms per person per frame), and each person keeps an identity (a
  *track*) by overlap with their next detection;
* a classifier thread gives verdicts on the faces of new tracks, of tracks
  whose box moved, and of the others every ``recheck_every`` detections;
  the feature core and the SVM release the GIL, so the next frames are read
  and searched meanwhile;
* each track's verdicts are smoothed: its label changes only once a new label
  wins ``k`` of its last ``m`` verdicts, so a label does not flicker.

Events (a person appears, their label changes, they leave) go to a callback
as dicts; the command line prints them as JSON lines. Another callback sees
every processed frame with its tracks: the window of :mod:`maskhog.preview`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .io import IMAGE_SUFFIXES, ImageError, read_image
from .detect import box_iou

__all__ = ["LiveConfig", "Track", "open_source", "peak_rss_mb", "run_live"]


@dataclass
class LiveConfig:
    """Knobs of the loop, with defaults for a low-power CPU."""

    detect_every: int = 3      # detect faces on every N-th frame, track in between
    scale: float = 1.0         # shrink frames by this factor before detecting
    smooth_k: int = 3          # a new label needs k ...
    smooth_m: int = 5          # ... of the last m verdicts
    max_fps: float = 0.0       # 0: as fast as the machine allows
    realtime: bool = False     # pace a video file at its own rate, newest frame only
    lost_after: int = 2        # detections a track may miss before it ends
    recheck_every: int = 2     # classify a still face again after this many detections
    moved_iou: float = 0.8     # ... and at once when its box overlaps its last classified one less
    stats_every: float = 5.0   # seconds between stats records (0: none)
    # "none": hold boxes still between detections (benchmarks/bench_live.py: 2.2x the frames
    # per second of "correlation", dlib's tracker, at the same accuracy); "correlation": follow
    # each face, for people who move far between detections.
    tracker: str = "none"


@dataclass
class Track:
    """One person followed across frames."""

    id: int
    box: tuple
    tracker: object
    history: deque = field(default_factory=deque)
    label: str | None = None   # None until the first verdict
    score: float = 0.0
    missed: int = 0
    asked_box: tuple | None = None   # the box last sent to the classifier
    since_asked: int = 0             # detections since then

    def vote(self, label: str, score: float, k: int, m: int) -> bool:
        """Add a verdict; return True when the smoothed label changes."""
        self.history.append(label)
        while len(self.history) > m:
            self.history.popleft()
        best, count = Counter(self.history).most_common(1)[0]
        if self.label is None or (best != self.label and count >= k):
            changed = best != self.label
            self.label, self.score = best, score
            return changed
        if best == self.label:
            self.score = score
        return False


class _Capture(threading.Thread):
    """Reads a source on its own thread; ``latest`` keeps only the newest frame."""

    def __init__(self, source, latest: bool, fps: float):
        super().__init__(daemon=True)
        self.source, self.latest, self.fps = source, latest, fps
        self.cond = threading.Condition()
        self.queue: deque = deque()
        self.done = False
        self.stop_event = threading.Event()
        self.error: str | None = None

    def run(self):
        index = 0
        try:
            for frame in self.source:
                if self.stop_event.is_set():
                    break
                with self.cond:
                    if self.latest:
                        self.queue.clear()       # drop the stale frame: no backlog
                    else:
                        while len(self.queue) >= 4 and not self.stop_event.is_set():
                            self.cond.wait(0.1)   # file mode: never drop, bounded memory
                    self.queue.append((index, time.perf_counter(), frame))
                    self.cond.notify_all()
                index += 1
                if self.latest and self.fps:
                    time.sleep(1.0 / self.fps)   # a camera delivers at its own pace
        except ImageError as exc:
            self.error = str(exc)
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def get(self):
        """The next frame ``(index, t_captured, frame)``, or None at the end."""
        with self.cond:
            while not self.queue and not self.done:
                self.cond.wait(0.1)
            if not self.queue:
                return None
            item = self.queue.popleft()
            self.cond.notify_all()
            return item


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


class _Classifier(threading.Thread):
    """Gives verdicts on faces on its own thread, in the order they were asked for.

    ``ask`` queues one frame's faces (at most two frames wait: a slow
    classifier holds the loop back rather than piling up frames); ``take``
    returns the verdicts ready so far, or, with ``wait``, all of them.
    """

    def __init__(self, mask_detector):
        import queue

        super().__init__(daemon=True)
        self.mask_detector = mask_detector
        self.jobs: queue.Queue = queue.Queue(maxsize=2)
        self.ready: deque = deque()
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self):
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                index, t_cap, frame, ids, boxes = job
                t0 = time.perf_counter()
                if self.error is None:   # after a failure, only drain the queue
                    results = self.mask_detector.classify(frame, boxes)
                    self.seconds += time.perf_counter() - t0
                    self.ready.append((index, t_cap, list(zip(ids, results))))
            except BaseException as exc:   # handed to the loop's thread by take()
                self.error = exc
            finally:
                self.jobs.task_done()

    def ask(self, index, t_cap, frame, ids, boxes):
        self.jobs.put((index, t_cap, frame, ids, boxes))

    def take(self, wait: bool = False) -> list:
        if wait:
            self.jobs.join()
        if self.error is not None:
            raise self.error
        out = []
        while self.ready:
            out.append(self.ready.popleft())
        return out

    def close(self):
        self.jobs.put(None)
        self.join(timeout=5.0)


def run_live(source: str, mask_detector, *, config: LiveConfig = LiveConfig(), on_event=print,
             on_stats=None, on_frame=None, stop: threading.Event | None = None) -> dict:
    """Run the loop until the source ends or ``stop`` is set; return the final stats.

    ``on_event(dict)`` receives ``{"event": "appeared"|"changed"|"left", "frame",
    "track", "label", "score", "box"}``, where ``frame`` is the frame the verdict
    was made on; ``on_stats(dict)`` receives periodic stats with ``fps``,
    ``latency_ms_p50``, ``latency_ms_p95`` (capture to the frame's tracks
    updated), ``verdict_ms_p95`` (capture to a classifier verdict applied),
    ``rss_mb`` (peak resident memory) and per-stage milliseconds per frame.
    ``on_frame(frame, tracks, fps)`` sees every processed frame with the tracks
    that have a label (the live window draws them); returning ``False`` stops
    the loop.
    """
    import dlib

    if config.tracker not in ("correlation", "none"):
        raise ValueError(f"unknown tracker {config.tracker!r}: use correlation or none")
    # Without a tracker, boxes hold still between detections and people keep their
    # identity by overlap from one detection to the next: the cheapest mode.
    follow = config.tracker == "correlation"
    frames, live, fps = open_source(source)
    capture = _Capture(frames, latest=live or config.realtime, fps=fps if config.realtime else 0.0)
    capture.start()
    classifier = _Classifier(mask_detector)
    classifier.start()
    stop = stop or threading.Event()
    tracks: dict[int, Track] = {}
    next_id, processed, index = 1, 0, -1
    latencies: deque = deque(maxlen=1000)
    verdicts: deque = deque(maxlen=1000)
    stage = Counter()
    start = last_stats = time.perf_counter()

    def emit(kind, t, frame_index):
        on_event({"event": kind, "frame": frame_index, "track": t.id, "label": t.label,
                  "score": round(t.score, 4), "box": [int(v) for v in t.box]})

    def apply(done):
        """Verdicts from the classifier become votes, and events where a label is new or changes."""
        now = time.perf_counter()
        for frame_index, t_cap, results in done:
            verdicts.append((now - t_cap) * 1000)
            for tid, r in results:
                t = tracks.get(tid)
                if t is None:
                    continue
                first = t.label is None
                if t.vote(r.label, r.score, config.smooth_k, config.smooth_m) or first:
                    emit("appeared" if first else "changed", t, frame_index)

    try:
        while not stop.is_set():
            item = capture.get()
            if item is None:
                break
            index, t_cap, frame = item
            t0 = time.perf_counter()
            if processed % config.detect_every == 0:
                faces = mask_detector.find_faces(frame, config.scale)
                stage["detect"] += time.perf_counter() - t0
                unmatched = set(tracks)
                ask = []
                for face in faces:
                    tid = _match(tracks, face.box, unmatched)
                    if tid is None:
                        tracker = dlib.correlation_tracker() if follow else None
                        t = tracks[next_id] = Track(next_id, face.box, tracker)
                        next_id += 1
                    else:
                        t = tracks[tid]
                        unmatched.discard(tid)
                        t.box, t.missed = face.box, 0
                    if follow:
                        t.tracker.start_track(frame, dlib.rectangle(*face.box))
                    t.since_asked += 1
                    # New, moved or due: ask for a verdict; a still face keeps its label meanwhile.
                    if (t.asked_box is None or box_iou(t.asked_box, t.box) < config.moved_iou
                            or t.since_asked >= config.recheck_every):
                        t.asked_box, t.since_asked = t.box, 0
                        ask.append(t)
                if ask:
                    classifier.ask(index, t_cap, frame, [t.id for t in ask], [t.box for t in ask])
                gone = []
                for tid in unmatched:
                    tracks[tid].missed += 1
                    if tracks[tid].missed > config.lost_after:
                        gone.append(tid)
                # Before anyone leaves, the verdicts asked for so far are in: nothing is lost.
                apply(classifier.take(wait=bool(gone)))
                for tid in sorted(gone):
                    t = tracks.pop(tid)
                    if t.label is not None:
                        emit("left", t, index)
            else:
                if follow:
                    for t in tracks.values():   # follow each person between detections
                        t.tracker.update(frame)
                        p = t.tracker.get_position()
                        t.box = (p.left(), p.top(), p.right(), p.bottom())
                    stage["track"] += time.perf_counter() - t0
                apply(classifier.take())
            processed += 1
            now = time.perf_counter()
            latencies.append((now - t_cap) * 1000)
            if on_frame is not None and on_frame(frame, [t for t in tracks.values() if t.label],
                                                 processed / max(now - start, 1e-9)) is False:
                break
            if config.max_fps:
                time.sleep(max(0.0, 1.0 / config.max_fps - (now - t0)))
            if on_stats and config.stats_every and now - last_stats >= config.stats_every:
                stage["classify"] = classifier.seconds
                on_stats(_stats(processed, now - start, latencies, verdicts, stage))
                last_stats = now
    finally:
        capture.stop_event.set()
        capture.join(timeout=1.0)
        try:
            apply(classifier.take(wait=True))   # the verdicts still under way
        finally:
            classifier.close()
            for t in list(tracks.values()):   # the end of the source ends every track
                if t.label is not None:
                    emit("left", t, index)
    if capture.error:
        raise ImageError(capture.error)
    stage["classify"] = classifier.seconds
    return _stats(processed, time.perf_counter() - start, latencies, verdicts, stage)


def _match(tracks, box, candidates, min_iou=0.3):
    """The id of the candidate track whose box overlaps ``box`` most (IoU >= min_iou)."""
    best, best_iou = None, min_iou
    for tid in candidates:
        overlap = box_iou(tracks[tid].box, box)
        if overlap >= best_iou:
            best, best_iou = tid, overlap
    return best


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux's VmHWM starts afresh at exec; getrusage's maximum would include the
    parent's memory at fork, which misleads when a benchmark spawns us.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _stats(frames, seconds, latencies, verdicts, stage) -> dict:
    lat = np.array(latencies) if latencies else np.zeros(1)
    ver = np.array(verdicts) if verdicts else np.zeros(1)
    return {"frames": frames, "fps": round(frames / max(seconds, 1e-9), 1),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
            "verdict_ms_p95": round(float(np.percentile(ver, 95)), 2),
            "rss_mb": peak_rss_mb(),
            "stage_ms": {k: round(v * 1000 / max(frames, 1), 3) for k, v in stage.items()}}
