"""The stock face detectors of dlib and OpenCV, for comparison.

Both learned faces with a visible mouth: they find unmasked frontal faces well
and many masked faces not at all. maskhog's own detector (:mod:`.fhog`) is
trained on both kinds.
"""

from __future__ import annotations

import numpy as np

from ..boxes import Face
from ..perthread import PerThread
from .base import dlib_faces, gray_within

__all__ = ["DlibFrontal", "HaarFrontal"]


class DlibFrontal(PerThread):
    """dlib's stock frontal-face HOG detector (``dlib.get_frontal_face_detector``).

    Finds unmasked frontal faces well and many masked faces not at all: it
    learned faces with a visible mouth. ``upsample`` doubles the image that
    many times first, to find faces smaller than its 80-pixel window, at about
    four times the cost each time.
    """

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        self.name = "dlib"
        self.upsample = int(upsample)
        self.smallest_face = 80 / 2 ** self.upsample   # its window, in pixels of the image given
        self.threshold = float(threshold)

    def detect(self, image: np.ndarray) -> list[Face]:
        import dlib

        gray, f = gray_within(image)
        detector = self.per_thread("detector", dlib.get_frontal_face_detector)
        rects, scores, _ = detector.run(gray, self.upsample, self.threshold)
        return sorted(dlib_faces(rects, scores, f), key=lambda face: -face.score)


class HaarFrontal(PerThread):
    """OpenCV's Haar cascade for frontal faces (Viola-Jones), for comparison.

    Uses the ``haarcascade_frontalface_default.xml`` that OpenCV 4.x ships
    (OpenCV 5 ships none: then this detector says so). Like dlib's stock
    detector it learned unmasked faces. Scores are the cascade's level weights;
    ``upsample`` doubles the image that many times first.
    """

    FILE = "haarcascade_frontalface_default.xml"

    def __init__(self, upsample: int = 0, scale_factor: float = 1.1, min_neighbors: int = 5):
        self.name = "haar"
        self.upsample = int(upsample)
        self.smallest_face = 24 / 2 ** self.upsample   # the cascade's 24-px window
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self._cascade()   # fail now if this OpenCV has no cascade

    def _cascade(self):
        return self.per_thread("cascade", self._load_cascade)

    def _load_cascade(self):
        import cv2
        from pathlib import Path

        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = Path(folder or "") / self.FILE
        cascade = cv2.CascadeClassifier(str(path)) if folder and path.is_file() else None
        if cascade is None or cascade.empty():
            raise RuntimeError(f"this OpenCV ({cv2.__version__}) ships no {self.FILE}: "
                               "the Haar detector needs OpenCV 4.x")
        return cascade

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        gray, f = gray_within(image)
        if self.upsample:   # doubles the image this many times, to find faces under 24 px
            gray = cv2.resize(gray, None, fx=2 ** self.upsample, fy=2 ** self.upsample)
            f *= 2 ** self.upsample
        rects, _, weights = self._cascade().detectMultiScale3(
            gray, self.scale_factor, self.min_neighbors, outputRejectLevels=True)
        faces = [Face(tuple(int(round(v / f)) for v in (x, y, x + w, y + h)), float(s))
                 for (x, y, w, h), s in zip(rects, np.ravel(weights))]
        return sorted(faces, key=lambda face: -face.score)


