"""One call from an image to a verdict per face: find faces, crop, describe, classify.

:class:`MaskDetector` is the code path every command uses (``predict``,
``detect``, the live loop, training's face finder, the benchmarks), so that
they all find and crop faces exactly the way the model was trained::

    image ──► FaceSearch (maskhog.detect) ──► crop_faces (maskhog.crops)
          ──► classifier (maskhog.classify) ──► FaceResult per face
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classify import MaskClassifier, default_model_path
from .crops import crop_faces
from .detect import FaceSearch
from .io import to_bgr, to_gray

__all__ = ["FaceResult", "MaskDetector"]


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
        """Plain Python types only (the cascade's stages are NumPy strings), as records hold them."""
        return {"box": list(self.box), "label": str(self.label), "score": round(self.score, 4),
                "probabilities": {str(k): round(v, 4) for k, v in self.probabilities.items()},
                "stage": str(self.stage)}


class MaskDetector:
    """Find faces and tell whether each wears a mask.

    Parameters
    ----------
    detector : Detector, optional
        Default: maskhog's own detector, which finds masked faces too.
    model : MaskClassifier, CnnClassifier, Cascade or path, optional
        Anything with ``classes``, ``crop_specs`` and ``classify_crops``; a path
        loads a linear model. Default: the linear model shipped with maskhog
        (:func:`maskhog.classify.make_classifier` builds the other stages).
    min_face, second_look, looks_face_probability, looks_pose
        How faces are searched for: see :class:`maskhog.detect.FaceSearch`.

    Attributes
    ----------
    search : FaceSearch
        The search; ``detector`` and ``looks_detector`` are its detectors.

    Examples
    --------
    >>> from skimage import data
    >>> faces = MaskDetector().detect(data.astronaut(), rgb=True)
    >>> [f.label for f in faces]
    ['without_mask']
    """

    def __init__(self, detector=None, model=None, *, min_face: int = 0, second_look: bool = True,
                 looks_face_probability: float | None = None, looks_pose: bool = True):
        self.search = FaceSearch(detector, min_face=min_face, second_look=second_look,
                                 looks_face_probability=looks_face_probability, looks_pose=looks_pose)
        self.detector, self.looks_detector = self.search.detector, self.search.looks_detector
        if model is None or isinstance(model, (str, Path)):
            model = MaskClassifier.load(model or default_model_path())
        self.model = model

    def find_faces(self, image: np.ndarray, scale: float = 1.0) -> list:
        """Faces (:class:`maskhog.boxes.Face`) in ``image``, as :meth:`FaceSearch.find_faces` finds them."""
        return self.search.find_faces(image, scale)

    def detect(self, image: np.ndarray, *, rgb: bool = False) -> list[FaceResult]:
        """Faces in ``image`` (uint8 BGR by default, RGB with ``rgb=True``, or gray).

        Images of any size: one with a side over :data:`maskhog.tuning.MAX_SIDE`
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
