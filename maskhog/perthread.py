"""One copy per thread of objects that are not thread-safe (dlib detectors, OpenCV DNN nets)."""

import threading

__all__ = ["PerThread"]


class PerThread:
    """Base class: keeps such objects in ``self._local``, one per thread, and pickles without
    them, so that each worker process (``predict --jobs``) builds its own."""

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()
