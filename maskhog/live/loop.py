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
every processed frame with its tracks: the window of :mod:`maskhog.live.preview`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

from ..boxes import iou
from ..io import ImageError, open_source
from .stats import live_stats
from .threads import FrameReader, VerdictWorker
from .tracks import Track, match_track

__all__ = ["LiveConfig", "run_live"]


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
    retry: int | None = 3      # reopen a camera or stream that is down this often (None: for ever)
    retry_max_wait: float = 8.0   # the longest wait between two tries, seconds


def run_live(source: str, mask_detector, *, config: LiveConfig = LiveConfig(), on_event=print,
             on_stats=None, on_frame=None, on_verdict=None, stop: threading.Event | None = None) -> dict:
    """Run the loop until the source ends or ``stop`` is set; return the final stats.

    ``on_event(dict)`` receives ``{"event": "appeared"|"changed"|"left", "frame",
    "track", "label", "score", "box"}``, where ``frame`` is the frame the verdict
    was made on; ``on_stats(dict)`` receives periodic stats with ``fps``,
    ``latency_ms_p50``, ``latency_ms_p95`` (capture to the frame's tracks
    updated), ``verdict_ms_p95`` (capture to a classifier verdict applied),
    ``rss_mb`` (peak resident memory) and per-stage milliseconds per frame.
    ``on_frame(frame, tracks, fps)`` sees every processed frame with every
    track in it, those whose first verdict is still to come with label
    ``None`` (the live window draws the labelled ones; snapshots blur them all);
    returning ``False`` stops the loop. ``on_verdict(track, label, score, frame)`` sees every classifier
    verdict, before smoothing (the access gate counts them).
    """
    import dlib

    if config.tracker not in ("correlation", "none"):
        raise ValueError(f"unknown tracker {config.tracker!r}: use correlation or none")
    # Without a tracker, boxes hold still between detections and people keep their
    # identity by overlap from one detection to the next: the cheapest mode.
    follow = config.tracker == "correlation"
    stop = stop or threading.Event()
    # The source shares the stop event: a wait to reopen a dropped stream ends with it.
    frames, live, fps = open_source(source, retry=config.retry, max_wait=config.retry_max_wait, stop=stop)
    capture = FrameReader(frames, latest=live or config.realtime, fps=fps if config.realtime else 0.0)
    capture.start()
    classifier = VerdictWorker(mask_detector)
    classifier.start()
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
                if on_verdict is not None:
                    on_verdict(t, r.label, r.score, frame_index)

    try:
        while not stop.is_set():
            item = capture.get(stop)
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
                    tid = match_track(tracks, face.box, unmatched)
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
                    if (t.asked_box is None or iou(t.asked_box, t.box) < config.moved_iou
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
            if on_frame is not None and on_frame(frame, list(tracks.values()),
                                                 processed / max(now - start, 1e-9)) is False:
                break
            if config.max_fps:
                time.sleep(max(0.0, 1.0 / config.max_fps - (now - t0)))
            if on_stats and config.stats_every and now - last_stats >= config.stats_every:
                stage["classify"] = classifier.seconds
                on_stats(live_stats(processed, now - start, latencies, verdicts, stage))
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
    return live_stats(processed, time.perf_counter() - start, latencies, verdicts, stage)
