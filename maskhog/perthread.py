"""One copy per thread of objects that are not thread-safe (dlib detectors, OpenCV DNN nets)."""

import threading

__all__ = ["PerThread"]


class PerThread:
    """Base class: :meth:`per_thread` keeps such objects one per thread, and pickles and
    copies leave them out, so that each worker process or copy builds its own."""

    def per_thread(self, key, make):
        """This thread's object under ``key``, made by ``make()`` the first time it is asked for."""
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        own = local.__dict__
        if key not in own:
            own[key] = make()
        return own[key]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
