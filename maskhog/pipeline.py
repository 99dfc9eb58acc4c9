"""One call from an image to a verdict per face: detect, crop, describe, classify.

:class:`MaskDetector` is the code path every command uses (``predict``,
``evaluate`` on scenes, the live loop, the benchmarks), so that they all
crop faces exactly the way the model was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crops import crop_faces
from .io import scaled, to_bgr, to_gray

__all__ = ["FaceResult", "MaskDetector", "LOOKS", "ENLARGE", "MIRROR", "LOOKS_FACE_PROBABILITY"]

#: When no face is found, the image is looked at again, shrunk to at most ``side`` pixels
#: on its longer side and inside a gray border of ``border`` times that side, for each
#: ``(side, border)`` in turn until a face is found: a face that fills the image (a tight
#: crop, a close-up) leaves the detector's window no room. The third and fourth looks were
#: chosen on 607 faces/ photos of the training groups (together they find 30 of the 64
#: faces the second look misses). Held-out faces/ photos, most of them tight crops
#: (benchmarks/bench_detection.py): a face found in 0.23 / 0.25 of the masked / unmasked
#: ones at the first look, 0.87 / 0.90 with the second, 0.91 / 0.94 with the third,
#: 0.92 / 0.95 with the fourth, the templates judging alone; 0.90 / 0.95 of 1,011 with the
#: CNN face verifier's word too (below), and 0.93 / 0.95 with the enlarged look after them
#: (:data:`ENLARGE`). Each look costs about 20 ms on a 640x480 frame with nobody in it, so
#: the live loop does without.
LOOKS = ((400, 0.4), (200, 0.6), (150, 0.8))
#: After those looks, an image whose longer side is under ``ENLARGE[0]`` pixels is searched once
#: more, enlarged to ``ENLARGE[1]``: a small photo of a whole person (a 100-px thumbnail) holds a
#: face smaller than the detector's window. Chosen on the same training photos and face-free
#: windows as the looks (with 200 -> 300: 0.939 / 0.963 of the masked / unmasked photos against
#: 0.913 / 0.963, two more of 295 face-free windows given a face; enlarging more found a little
#: more and gave faces to up to nine more windows).
ENLARGE = (200, 300)
#: When no look finds a face, all of them are made again on the image mirrored left to right:
#: the templates score a face and its mirror image differently, so this is a second chance at
#: a close-up they nearly found (figures below).
MIRROR = True
#: In those looks, what the templates find is a face when the CNN face verifier gives it at
#: least this probability (its own threshold, for scene photos, would drop some close-ups).
#: Chosen with the later looks as they are (dlib's pose templates too, then the mirror image)
#: on 607 faces/ photos of the detector's training groups and 295 face-free windows of
#: training scene photos: the lowest of 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8 that gives a
#: face to at most 5% of the windows (14; 0.961 / 0.976 of the masked / unmasked photos
#: found). The verifier learned from framed close-ups too, so it is surer of framed faces and
#: of gray frames alike: the rule picked 0.15 for the verifier before it. On 1,011 held-out
#: faces/ photos and 136 windows of test scene photos: 0.962 / 0.989 found, 9 windows given a
#: face; the verifier before, at 0.15: 0.951 / 0.976 and 6 windows
#: (docs/studies/detector-scene-misses/REPORT.md, section 4).
LOOKS_FACE_PROBABILITY = 0.5


def look_frame(longer: int, side: int, border: float) -> tuple[float, int]:
    """The scale and the gray border in pixels of the framed look ``(side, border)`` (one of
    :data:`LOOKS`) at an image whose longer side is ``longer`` pixels."""
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


@dataclass(frozen=True)
class FaceResult:
    """One face: where it is, what the model says, and how sure it is.

    ``box`` is ``(x1, y1, x2, y2)`` in pixels; ``score`` is the probability
    of ``label``; ``probabilities`` maps every class of the model to its
    probability; ``detector_score`` is the face detector's own confidence;
    ``stage`` says which classifier decided (``"svm"`` or ``"cnn"``).
    """

    box: tuple[int, int, int, int]
    label: str
    score: float
    probabilities: dict
    detector_score: float
    stage: str = "svm"

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "stage": self.stage}


class MaskDetector:
    """Find faces and tell whether each wears a mask.

    Parameters
    ----------
    detector : Detector, optional
        Default: maskhog's own detector, which finds masked faces too.
    model : MaskClassifier, CnnClassifier, Cascade or path, optional
        Anything with ``classes``, ``crop_specs`` and ``classify_crops``; a path
        loads a linear model. Default: the linear model shipped with maskhog
        (:func:`maskhog.cnn.make_classifier` builds the other stages).
    min_face : int
        The smallest faces wanted, in pixels across (a box's shorter side).
        Smaller ones are ignored, and the image is searched at the scale
        that makes such a face the detector's smallest: enlarged when
        ``min_face`` is below it (24-px faces cost more), shrunk when above
        (only large faces: faster). 0 searches the image as it is.
    second_look : bool
        Search an image in which no face is found again, shrunk and framed
        by a border, or enlarged when it is small (:meth:`find_faces`); the
        live loop turns it off.
    looks_face_probability : float
        In those looks, the CNN face verifier's probability a face needs
        (default :data:`LOOKS_FACE_PROBABILITY`; 0: the templates alone, which
        find more close-ups and more faces where there are none).
    looks_pose : bool
        In those looks, also scan dlib's pose templates (``MaskHog.with_pose``)
        where the detector is maskhog's own.

    Examples
    --------
    >>> from skimage import data
    >>> faces = MaskDetector().detect(data.astronaut(), rgb=True)
    >>> [f.label for f in faces]
    ['without_mask']
    """

    def __init__(self, detector=None, model=None, *, min_face: int = 0, second_look: bool = True,
                 looks_face_probability: float = LOOKS_FACE_PROBABILITY, looks_pose: bool = True):
        from .detect import MaskHog
        from pathlib import Path

        from .model import MaskClassifier, default_model_path

        self.detector = detector if detector is not None else MaskHog()
        if model is None or isinstance(model, (str, Path)):
            model = MaskClassifier.load(model or default_model_path())
        self.model = model
        self.min_face = int(min_face)
        self.second_look = bool(second_look)
        self.looks_face_probability = float(looks_face_probability)
        # The later looks are for still photos, where a few milliseconds more matter less than a
        # missed face: there maskhog's detector also scans dlib's pose templates, and looks at
        # the mirror image too. Both were measured with maskhog's detector only: with dlib's
        # stock one the mirror image of the demo's masked photo shows a face on her flag.
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

    def find_faces(self, image: np.ndarray, scale: float = 1.0) -> list:
        """Faces (:class:`maskhog.detect.Face`) of at least ``min_face`` pixels, in ``image``'s
        pixels; the image is searched resized by ``scale`` times :meth:`search_scale`.

        When none is found and :attr:`second_look` is set, the image is searched
        again, shrunk and framed by a gray border, at each of :data:`LOOKS` in
        turn until a face is found, and then, if it is small, enlarged
        (:data:`ENLARGE`); these later looks also scan dlib's pose templates
        (:attr:`looks_detector`). Last, all the looks are made again on the
        image mirrored left to right (:data:`MIRROR`; maskhog's detector only).
        """
        from .detect import MAX_SIDE

        longer = max(image.shape[:2])
        # Never enlarge past the size the detector would shrink back to anyway.
        first = min(scale * self.search_scale(), max(1.0, MAX_SIDE / longer))
        faces = self._search(image, first, detector=self.detector)
        if faces or not self.second_look:
            return faces
        faces = self._later_looks(image)
        if not faces and MIRROR and self.mirror:
            import cv2

            from .detect import Face

            mirrored = cv2.flip(image, 1)
            found = self._search(mirrored, first) or self._later_looks(mirrored)
            w = image.shape[1]
            # Mirror each box back: x runs from the right edge in the mirror image.
            faces = [Face((w - face.box[2], face.box[1], w - face.box[0], face.box[3]), face.score)
                     for face in found]
        return faces

    def _later_looks(self, image: np.ndarray) -> list:
        """The framed looks (:data:`LOOKS`), then the enlarged one (:data:`ENLARGE`)."""
        longer = max(image.shape[:2])
        for look in LOOKS:
            faces = self._search(image, *look_frame(longer, *look))
            if faces:
                return faces
        return self._search(image, ENLARGE[1] / longer) if longer < ENLARGE[0] else []

    def _search(self, image: np.ndarray, f: float, border: int = 0, detector=None) -> list:
        """Faces of ``min_face`` pixels or more in ``image`` resized by ``f`` and framed by
        ``border`` gray pixels, in ``image``'s own pixels (cut at its edges when framed), found
        by ``detector`` (default: :attr:`looks_detector`)."""
        from .detect import Face

        h, w = image.shape[:2]
        image = framed(image, f, border)
        detector = detector or self.looks_detector
        verifier = getattr(detector, "verifier", None)
        if border and verifier is not None:
            # The face verifiers learned from scene photos. A close-up framed in gray is
            # another kind of picture: the templates judge at their own threshold, then the
            # CNN verifier, if there is one, at the lower looks_face_probability.
            from .verify import CnnFaceVerifier

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

    def detect(self, image: np.ndarray, *, rgb: bool = False) -> list[FaceResult]:
        """Faces in ``image`` (uint8 BGR by default, RGB with ``rgb=True``, or gray).

        Images of any size: one with a side over :data:`maskhog.detect.MAX_SIDE`
        is searched shrunk (with a logged warning), its boxes given in its own pixels.
        """
        if np.ndim(image) == 2:   # gray stays gray: no 3x copy of a large frame
            image = to_gray(image)
        else:
            image = to_bgr(image)
            if rgb:
                image = np.ascontiguousarray(image[:, :, ::-1])
        faces = self.find_faces(image)
        return self.classify(image, [f.box for f in faces], [f.score for f in faces])

    def classify(self, image: np.ndarray, boxes, detector_scores=None) -> list[FaceResult]:
        """Verdicts for given face boxes of a BGR image (no detection)."""
        if not len(boxes):
            return []
        # One crop per rule the classifier asks for (the cascade's two stages may share one).
        cut = {spec: crop_faces(image, boxes, spec) for spec in dict.fromkeys(self.model.crop_specs)}
        crops = [cut[spec] for spec in self.model.crop_specs]
        if hasattr(self.model, "classify_with_stage"):   # the cascade says which stage decided
            proba, stages = self.model.classify_with_stage(*crops)
        else:
            proba = self.model.classify_crops(*crops)
            stages = [getattr(self.model, "stage", "svm")] * len(boxes)
        scores = detector_scores if detector_scores is not None else [1.0] * len(boxes)
        classes = self.model.classes
        return [FaceResult(tuple(int(v) for v in box), classes[int(p.argmax())], float(p.max()),
                           {c: float(v) for c, v in zip(classes, p)}, float(s), stage)
                for box, p, s, stage in zip(boxes, proba, scores, stages)]
