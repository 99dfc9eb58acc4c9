"""What every face detector is: an image in, face boxes with scores out.

A detector has a ``name``, ``smallest_face`` (about the smallest face box it
finds, in pixels of the image given, or ``None`` when enlarging the image does
not help) and ``detect(image) -> list[Face]``, with boxes in pixels of the
image given. dlib's detectors and OpenCV's networks are not thread-safe, so
each thread gets its own instance (:class:`maskhog.perthread.PerThread`).
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from .. import tuning
from ..boxes import Face
from ..io import scaled, to_gray

__all__ = ["Detector", "gray_within", "dlib_faces"]

log = logging.getLogger("maskhog")


class Detector(Protocol):
    name: str
    smallest_face: float | None

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first."""


def gray_within(image: np.ndarray, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """The image as gray, shrunk if its longer side exceeds ``max_side`` (default
    :data:`maskhog.tuning.MAX_SIDE`), and the factor used."""
    max_side = tuning.MAX_SIDE if max_side is None else max_side
    gray = to_gray(image)
    side = max(gray.shape)
    if side <= max_side:
        return gray, 1.0
    f = max_side / side
    log.warning("image of %dx%d pixels shrunk by %.3g to find faces", gray.shape[1], gray.shape[0], f)
    return scaled(gray, f), f


def dlib_faces(rects, scores, f: float) -> list[Face]:
    """dlib's rectangles as faces, in pixels of the image before :func:`gray_within` shrunk it by ``f``."""
    return [Face(tuple(int(round(v / f)) for v in (r.left(), r.top(), r.right(), r.bottom())), float(s))
            for r, s in zip(rects, scores)]
