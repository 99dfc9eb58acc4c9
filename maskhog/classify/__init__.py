"""Classifying face crops: with_mask, without_mask or incorrect_mask.

Three classifiers share one small interface (``classes``, ``crop_specs`` and
``classify_crops(*crops) -> probabilities``):

* :class:`MaskClassifier` (:mod:`.linear`): a linear SVM on HOG + LBP + colour
  features, calibrated; fast and explainable;
* :class:`CnnClassifier` (:mod:`.cnn`): a small CNN run by OpenCV DNN;
* :class:`Cascade` (:mod:`.cascade`): the SVM where it is sure, else the CNN.

:func:`make_classifier` builds the one a ``--stage`` names.
"""

from __future__ import annotations

from ..errors import OptionError
from .cascade import Cascade
from .cnn import CnnClassifier, default_cnn_path
from .linear import MaskClassifier, default_model_path, neutral_chroma

__all__ = ["MaskClassifier", "CnnClassifier", "Cascade", "STAGES", "default_model_path",
           "default_cnn_path", "default_stage", "make_classifier", "neutral_chroma"]

#: The choices of ``--stage``.
STAGES = ("svm", "cnn", "cascade")


def default_stage(svm=None, cnn=None) -> str:
    """The stage used when none is named: the cascade of the shipped models, or of your SVM
    and your CNN; your own SVM alone when only it is given (the shipped CNN's cascade
    threshold was chosen for the shipped SVM)."""
    return "cascade" if svm is None or cnn is not None else "svm"


def make_classifier(stage: str | None = None, svm=None, cnn=None, *, backend: str = "auto",
                    threshold=None):
    """The classifier of a ``--stage``: the SVM, the CNN, or the cascade of both.

    ``svm`` and ``cnn`` may be models or paths; ``None`` means the shipped one.
    ``stage`` ``None`` is :func:`default_stage`. ``threshold`` overrides the
    cascade's (see :class:`Cascade`) and is for the cascade only.
    """
    stage = default_stage(svm, cnn) if stage is None else stage
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    if threshold is not None and stage != "cascade":
        raise OptionError(f"a cascade threshold applies to the cascade stage only, not {stage}")
    if stage != "cnn" and not isinstance(svm, MaskClassifier):
        svm = MaskClassifier.load(svm or default_model_path())
    if stage == "svm":
        return svm
    if not isinstance(cnn, CnnClassifier):
        cnn = CnnClassifier(cnn or default_cnn_path(), backend=backend)
    return cnn if stage == "cnn" else Cascade(svm, cnn, threshold)
