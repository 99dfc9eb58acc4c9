"""Searching an image with a detector: at the right scale, and again where nothing was found.

A detector's window sets the smallest face it sees (about 41 px for ours), and
a face that fills the image leaves the window no room. :class:`FaceSearch`
resizes the image so that the smallest face wanted fits the window, and, for
still photos in which no face is found, looks again (the knobs are in
:mod:`maskhog.tuning`, the measurements in docs/design.md#looks):

1. shrunk into a gray border, at each of :data:`~maskhog.tuning.LOOKS` in turn
   (close-ups and tight crops);
2. enlarged, when the image is small (:data:`~maskhog.tuning.ENLARGE`: thumbnails);
3. all of that again on the mirror image (:data:`~maskhog.tuning.MIRROR`).

The later looks scan dlib's pose templates too, and there the CNN face verifier
judges at its own lower bar (:data:`~maskhog.tuning.LOOKS_FACE_PROBABILITY`).
"""

from __future__ import annotations

import numpy as np

from .. import tuning
from ..boxes import Face
from ..io import scaled
from .fhog import MaskHog
from .verify import CnnFaceVerifier

__all__ = ["FaceSearch", "framed", "look_frame"]


def look_frame(longer: int, side: int, border: float) -> tuple[float, int]:
    """The scale and the gray border in pixels of the framed look ``(side, border)`` (one of
    :data:`maskhog.tuning.LOOKS`) at an image whose longer side is ``longer`` pixels."""
    f = min(1.0, side / longer)
    return f, int(round(border * round(longer * f)))


def framed(image: np.ndarray, f: float, border: int) -> np.ndarray:
    """``image`` resized by ``f`` and framed by ``border`` gray pixels on every side."""
    import cv2

    if f != 1.0:
        image = scaled(image, f)
    if border:
        image = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT,
                                   value=(128, 128, 128))
    return image


class FaceSearch:
    """Find the faces of an image with a detector, as every command does.

    Parameters
    ----------
    detector : Detector, optional
        Default: maskhog's own (:class:`~maskhog.detect.MaskHog`).
    min_face : int
        The smallest faces wanted, in pixels across (a box's shorter side).
        Smaller ones are ignored, and the image is searched at the scale that
        makes such a face the detector's smallest: enlarged when ``min_face``
        is below it (24-px faces cost more), shrunk when above (only large
        faces: faster). 0 searches the image as it is.
    second_look : bool
        Look again at an image in which no face is found (the module's notes);
        the live loop turns it off.
    looks_face_probability : float
        In those looks, the CNN face verifier's probability a face needs
        (0: the templates alone, which find more close-ups and more faces
        where there are none).
    looks_pose : bool
        In those looks, also scan dlib's pose templates (:meth:`MaskHog.with_pose`)
        where the detector is maskhog's own.
    """

    def __init__(self, detector=None, *, min_face: int = 0, second_look: bool = True,
                 looks_face_probability: float | None = None, looks_pose: bool = True):
        self.detector = detector if detector is not None else MaskHog()
        self.min_face = int(min_face)
        self.second_look = bool(second_look)
        self.looks_face_probability = float(tuning.LOOKS_FACE_PROBABILITY if looks_face_probability is None
                                            else looks_face_probability)
        # The later looks are for still photos, where a few milliseconds more matter less than a
        # missed face. The pose templates and the mirror image were measured with maskhog's
        # detector only: with dlib's stock one the mirror image of the demo's masked photo shows
        # a face on her flag.
        own = isinstance(self.detector, MaskHog)
        self.looks_detector = self.detector.with_pose() if own and looks_pose else self.detector
        self.mirror = own

    def big_enough(self, box) -> bool:
        """Whether a face box reaches ``min_face`` pixels on its shorter side."""
        return min(box[2] - box[0], box[3] - box[1]) >= self.min_face

    def search_scale(self) -> float:
        """How much to resize images so that a ``min_face`` face is the detector's smallest."""
        smallest = getattr(self.detector, "smallest_face", None)
        if not self.min_face or not smallest:
            return 1.0
        return float(np.clip(smallest / self.min_face, 1 / 8, 4.0))

    def find_faces(self, image: np.ndarray, scale: float = 1.0) -> list[Face]:
        """Faces of at least ``min_face`` pixels, in ``image``'s pixels; the image is searched
        resized by ``scale`` times :meth:`search_scale`, then, where nothing is found and
        :attr:`second_look` is set, looked at again (the module's notes)."""
        longer = max(image.shape[:2])
        # Never enlarge past the size the detector would shrink back to anyway.
        first = min(scale * self.search_scale(), max(1.0, tuning.MAX_SIDE / longer))
        faces = self.search(image, first, detector=self.detector)
        if faces or not self.second_look:
            return faces
        faces = self.later_looks(image)
        if not faces and tuning.MIRROR and self.mirror:
            import cv2

            mirrored = cv2.flip(image, 1)
            found = self.search(mirrored, first) or self.later_looks(mirrored)
            w = image.shape[1]
            # Mirror each box back: x runs from the right edge in the mirror image.
            faces = [Face((w - face.box[2], face.box[1], w - face.box[0], face.box[3]), face.score)
                     for face in found]
        return faces

    def later_looks(self, image: np.ndarray) -> list[Face]:
        """The framed looks (:data:`maskhog.tuning.LOOKS`) in turn, then the enlarged one
        (:data:`maskhog.tuning.ENLARGE`)."""
        longer = max(image.shape[:2])
        for look in tuning.LOOKS:
            faces = self.search(image, *look_frame(longer, *look))
            if faces:
                return faces
        under, to = tuning.ENLARGE
        return self.search(image, to / longer) if longer < under else []

    def search(self, image: np.ndarray, f: float, border: int = 0, detector=None) -> list[Face]:
        """Faces of ``min_face`` pixels or more in ``image`` resized by ``f`` and framed by
        ``border`` gray pixels, in ``image``'s own pixels (cut at its edges when framed), found
        by ``detector`` (default: :attr:`looks_detector`)."""
        h, w = image.shape[:2]
        image = framed(image, f, border)
        detector = detector or self.looks_detector
        verifier = getattr(detector, "verifier", None)
        if border and verifier is not None:
            # The face verifiers learned from scene photos. A close-up framed in gray is
            # another kind of picture: the templates judge at their own threshold, then the
            # CNN verifier, if there is one, at the lower looks_face_probability.
            found = detector.detect(image, verify=False)
            if isinstance(verifier, CnnFaceVerifier):
                found = verifier.keep(image, found, detector.threshold, self.looks_face_probability)
        else:
            found = detector.detect(image)
        faces = []
        for face in found:
            box = tuple(int(round((v - border) / f)) for v in face.box)
            if border:   # a face that filled the image: cut its box at the image's edges
                box = (max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h))
                if box[2] <= box[0] or box[3] <= box[1]:
                    continue
            if self.big_enough(box):
                faces.append(Face(box, face.score))
        return faces
