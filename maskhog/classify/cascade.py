"""The cascade: the linear SVM decides when it is sure, the CNN decides the rest."""

from __future__ import annotations

import logging
import threading

import numpy as np

from ..modelfiles import ModelError, array_sha256
from .cnn import CnnClassifier

__all__ = ["Cascade"]

log = logging.getLogger("maskhog")


class Cascade:
    """The SVM decides when it is sure; the CNN decides the rest.

    Faces without colour (gray or infrared frames) stay with the SVM's gray
    weights when the CNN learned from colour: on held-out faces turned gray
    the colour CNN scores 0.71, the gray weights 0.84.

    Parameters
    ----------
    svm : MaskClassifier
    cnn : CnnClassifier
        Same classes as ``svm``; it may crop faces its own way (in colour).
    threshold : float, optional
        SVM confidence (its largest calibrated probability) at or above
        which the SVM's verdict stands. Default: the one stored in the CNN's
        header, chosen on validation faces.

    Attributes
    ----------
    calls, faces : int
        How many faces went to the CNN, out of how many.
    """

    def __init__(self, svm, cnn: CnnClassifier, threshold: float | None = None):
        if tuple(svm.classes) != tuple(cnn.classes):
            raise ModelError(f"the SVM's classes {svm.classes} differ from the CNN's {cnn.classes}")
        if threshold is None:
            threshold = cnn.cascade_threshold
            if threshold is None:
                raise ModelError(f"{cnn.path}: its header holds no cascade threshold; pass one")
            chosen_for = cnn.info.get("cascade", {}).get("svm_coef_sha256")
            if chosen_for and chosen_for != array_sha256(svm.coef):
                # A threshold is a point on one SVM's confidence scale: another SVM's differs.
                log.warning("%s: its cascade threshold %.3f was chosen for another SVM than this "
                            "one; retrain the CNN with `maskhog train-cnn --svm` or pass a threshold",
                            cnn.path, threshold)
        self.svm, self.cnn, self.threshold = svm, cnn, float(threshold)
        self.classes = svm.classes
        # Each stage crops faces its own way (both may share one colour rule).
        self.crop_specs = (svm.crop, cnn.crop)
        self.calls = self.faces = 0
        self._lock = threading.Lock()

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def classify_crops(self, svm_crops, cnn_crops) -> np.ndarray:
        """Class probabilities of the same faces cropped for each stage (:attr:`crop_specs`):
        the SVM's where it is sure, else the CNN's."""
        proba, _ = self.classify_with_stage(svm_crops, cnn_crops)
        return proba

    def classify_with_stage(self, svm_crops, cnn_crops) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and, per face, which stage decided (``"svm"`` or ``"cnn"``)."""
        if len(cnn_crops) != len(svm_crops):
            raise ValueError(f"{len(svm_crops)} SVM crops but {len(cnn_crops)} CNN crops")
        if len(svm_crops) == 0:
            return np.zeros((0, len(self.classes))), np.array([], dtype=str)
        X = self.svm.describe(svm_crops)
        proba = self.svm.predict_proba(X)
        unsure = proba.max(axis=1) < self.threshold
        if self.svm.gray is not None and self.cnn.crop.color:
            # A colour CNN is lost without colour: the SVM's gray weights decide such faces.
            unsure &= ~self.svm.achromatic(X)
        if unsure.any():
            proba[unsure] = self.cnn.classify_crops(np.asarray(cnn_crops)[unsure])
        with self._lock:
            self.calls += int(unsure.sum())
            self.faces += len(proba)
        return proba, np.where(unsure, "cnn", "svm")

    @property
    def cnn_fraction(self) -> float:
        """Share of the faces so far that went to the CNN."""
        return self.calls / self.faces if self.faces else 0.0


