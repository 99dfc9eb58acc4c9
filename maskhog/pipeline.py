"""One call from an image to a verdict per face: detect, crop, describe, classify.

:class:`MaskDetector` is the code path every command uses (``predict``,
``evaluate`` on scenes, the live loop, the benchmarks), so that they all
crop faces exactly the way the model was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crops import crop_faces
from .io import to_bgr

__all__ = ["FaceResult", "MaskDetector"]


@dataclass(frozen=True)
class FaceResult:
    """One face: where it is, what the model says, and how sure it is.

    ``box`` is ``(x1, y1, x2, y2)`` in pixels; ``score`` is the probability
    of ``label``; ``probabilities`` maps every class of the model to its
    probability; ``detector_score`` is the face detector's own confidence.
    """

    box: tuple[int, int, int, int]
    label: str
    score: float
    probabilities: dict
    detector_score: float

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


class MaskDetector:
    """Find faces and tell whether each wears a mask.

    Parameters
    ----------
    detector : Detector, optional
        Default: maskhog's own detector, which finds masked faces too.
    model : MaskClassifier or path, optional
        Default: the model shipped with maskhog.

    Examples
    --------
    >>> from skimage import data
    >>> faces = MaskDetector().detect(data.astronaut(), rgb=True)
    >>> [f.label for f in faces]
    ['without_mask']
    """

    def __init__(self, detector=None, model=None):
        from .detect import MaskHog
        from .model import MaskClassifier, default_model_path

        self.detector = detector if detector is not None else MaskHog()
        if model is None or not isinstance(model, MaskClassifier):
            model = MaskClassifier.load(model or default_model_path())
        self.model = model

    def detect(self, image: np.ndarray, *, rgb: bool = False) -> list[FaceResult]:
        """Faces in ``image`` (uint8 BGR by default, RGB with ``rgb=True``, or gray)."""
        image = to_bgr(image)
        if rgb:
            image = np.ascontiguousarray(image[:, :, ::-1])
        faces = self.detector.detect(image)
        return self.classify(image, [f.box for f in faces], [f.score for f in faces])

    def classify(self, image: np.ndarray, boxes, detector_scores=None) -> list[FaceResult]:
        """Verdicts for given face boxes of a BGR image (no detection)."""
        if not len(boxes):
            return []
        proba = self.model.classify_crops(crop_faces(image, boxes, self.model.crop))
        scores = detector_scores if detector_scores is not None else [1.0] * len(boxes)
        classes = self.model.classes
        return [FaceResult(tuple(int(v) for v in box), classes[int(p.argmax())], float(p.max()),
                           {c: float(v) for c, v in zip(classes, p)}, float(s))
                for box, p, s in zip(boxes, proba, scores)]
