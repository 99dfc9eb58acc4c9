"""The live loop's two helper threads: one reads frames, one gives verdicts.

The feature kernels, the SVM's dot products and OpenCV release the GIL, so on
two cores the next frames are read and searched while faces are classified.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque

from ..io import ImageError

__all__ = ["FrameReader", "VerdictWorker"]


class FrameReader(threading.Thread):
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

    def get(self, stop: threading.Event | None = None):
        """The next frame ``(index, t_captured, frame)``, or None at the end or once
        ``stop`` is set (a stalled capture cannot hold a stop up)."""
        with self.cond:
            while not self.queue and not self.done and not (stop and stop.is_set()):
                self.cond.wait(0.1)
            if not self.queue:
                return None
            item = self.queue.popleft()
            self.cond.notify_all()
            return item


class VerdictWorker(threading.Thread):
    """Gives verdicts on faces on its own thread, in the order they were asked for.

    ``ask`` queues one frame's faces (at most two frames wait: a slow
    classifier holds the loop back rather than piling up frames); ``take``
    returns the verdicts ready so far, or, with ``wait``, all of them.
    """

    def __init__(self, mask_detector):
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
