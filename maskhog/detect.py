"""Face detectors: an image in, face boxes with scores out.

Every detector has the same small interface (:class:`Detector`): a ``name``
and ``detect(image) -> list[Face]``, with boxes in pixels of the image given.
dlib's detectors are not thread-safe, so each thread gets its own instance.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["Face", "Detector", "DlibFrontal", "make_detector", "DETECTORS"]


@dataclass(frozen=True)
class Face:
    """A detected face: ``box = (x1, y1, x2, y2)`` in pixels, ``score`` higher is surer."""

    box: tuple[int, int, int, int]
    score: float


class Detector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first."""


class DlibFrontal:
    """dlib's stock frontal-face HOG detector (``dlib.get_frontal_face_detector``).

    Finds unmasked frontal faces well and many masked faces not at all: it
    learned faces with a visible mouth. ``upsample`` doubles the image that
    many times first, to find faces smaller than its 80-pixel window, at about
    four times the cost each time.
    """

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        self.name = "dlib"
        self.upsample = int(upsample)
        self.threshold = float(threshold)
        self._local = threading.local()

    def __getstate__(self):   # picklable for worker processes; each builds its own dlib object
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _detector(self):
        det = getattr(self._local, "detector", None)
        if det is None:
            import dlib
            det = self._local.detector = dlib.get_frontal_face_detector()
        return det

    def detect(self, image: np.ndarray) -> list[Face]:
        from .io import to_gray

        gray = to_gray(image)
        rects, scores, _ = self._detector().run(gray, self.upsample, self.threshold)
        faces = [Face((r.left(), r.top(), r.right(), r.bottom()), float(s))
                 for r, s in zip(rects, scores)]
        return sorted(faces, key=lambda f: -f.score)


DETECTORS = {"dlib": DlibFrontal}


def make_detector(name: str = "dlib", **options) -> Detector:
    """A detector by name: one of :data:`DETECTORS`."""
    try:
        return DETECTORS[name](**options)
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
