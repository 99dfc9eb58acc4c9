"""The mask classifier: a linear model with calibrated probabilities, in a safe file.

A trained model is a handful of arrays: one weight vector and bias per class
(a linear SVM, with feature scaling folded in) and two numbers per class
that turn an SVM score into a probability (Platt's sigmoid, fitted on
held-out scores). Prediction is a dot product and a sigmoid; scikit-learn is
needed to train, not to predict.

The file is a NumPy ``.npz`` archive of those arrays plus a UTF-8 JSON header
(classes, feature and crop settings, training summary, metrics, library
versions and the SHA-256 of every array). It is read with
``allow_pickle=False``: loading a model never runs code from the file.
A truncated, edited or incompatible file is refused with a clear message.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import tuning
from ..crops import CropSpec
from ..features import check_settings, face_features
from ..labels import CLASSES
from ..modelfiles import ModelError, load_npz, save_npz

__all__ = ["MaskClassifier", "FORMAT", "FORMAT_VERSION", "default_model_path", "neutral_chroma"]

FORMAT = "maskhog-linear"
#: 2 added colour cues (``features["color"]``, colour crops) and the gray fallback
#: (``gray_*`` arrays); 3, mirrored features (``features["mirror"]``). Older files still load.
FORMAT_VERSION = 3
_ARRAYS = ("coef", "intercept", "calib_a", "calib_b")
_GRAY_ARRAYS = tuple("gray_" + name for name in _ARRAYS)



def neutral_chroma(chroma) -> np.ndarray:
    """Which rows of mean Cr / Cb values (0..1) are all within
    :data:`maskhog.tuning.NEUTRAL_TOLERANCE` of the neutral 128: crops without colour
    (skin is far from it: Cr 133-173)."""
    return np.all(np.abs(np.asarray(chroma) - 128 / 255) <= tuning.NEUTRAL_TOLERANCE, axis=1)


def default_model_path() -> Path:
    """The model shipped inside the package."""
    return Path(__file__).parent.parent / "models" / "default.npz"


class MaskClassifier:
    """A linear mask classifier over HOG + LBP (and colour) features of face crops.

    Parameters
    ----------
    classes : sequence of str
        Class names, a subset of :data:`maskhog.labels.CLASSES` in that order.
    coef : (K, D) float32 ndarray
        Weights; ``K = 1`` for two classes (score > 0 means ``classes[1]``),
        else one row per class (one-vs-rest).
    intercept : (K,) ndarray
    calib_a, calib_b : (K,) ndarray
        Platt sigmoids: ``p = 1 / (1 + exp(a * score + b))``.
    crop : CropSpec
        How faces were cropped for training; run time must crop the same way.
    features : dict
        Keyword arguments of :func:`maskhog.features.face_features`: HOG and
        LBP settings, and ``color`` (settings of the colour cues) when the
        model sees colour crops.
    info : dict
        Free-form provenance: training data, metrics, versions.
    gray : MaskClassifier, optional
        For a model with colour cues: the same classes on HOG + LBP alone,
        which decides for faces without colour (gray or infrared frames, where
        no skin shows and the cues would read every face as masked).
    """

    def __init__(self, classes, coef, intercept, calib_a, calib_b, *, crop: CropSpec,
                 features: dict | None = None, info: dict | None = None,
                 gray: "MaskClassifier | None" = None):
        self.classes = tuple(classes)
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.calib_a = np.asarray(calib_a, dtype=np.float64)
        self.calib_b = np.asarray(calib_b, dtype=np.float64)
        self.crop = crop
        self.features = dict(features or {})
        self.info = dict(info or {})
        self.gray = gray
        self._check()

    # ------------------------------------------------------------ predict --

    def decision_function(self, X) -> np.ndarray:
        """Raw linear scores, ``(N, K)``."""
        return np.asarray(X, dtype=np.float32) @ self.coef.T + self.intercept

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, ``(N, len(classes))``, rows summing to 1.

        Rows of faces without colour go to the :attr:`gray` model, when there is one.
        """
        proba = self._proba(X)
        if self.gray is not None and len(proba):
            X = np.asarray(X)
            flat = self.achromatic(X)
            if flat.any():
                proba[flat] = self.gray.predict_proba(X[flat, :self.gray.n_features])
        return proba

    def achromatic(self, X) -> np.ndarray:
        """Which rows of ``X`` (features with colour cues) come from crops without colour:
        every mean Cr and Cb of the crop's grid near neutral (:func:`neutral_chroma`)."""
        grid = self.features["color"].get("chroma_grid", 4)
        return neutral_chroma(np.asarray(X)[:, -2 * grid * grid:])

    def _proba(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(np.clip(self.calib_a * scores + self.calib_b, -50, 50)))
        if len(self.classes) == 2:
            return np.column_stack([1 - p[:, 0], p[:, 0]])
        total = p.sum(axis=1, keepdims=True)
        # One-vs-rest sigmoids are renormalised; all-zero rows become uniform.
        return np.where(total > 0, p / np.where(total > 0, total, 1), 1.0 / len(self.classes))

    def predict(self, X) -> np.ndarray:
        """Most probable class name of each row."""
        return np.asarray(self.classes)[self.predict_proba(X).argmax(axis=1)]

    def classify_crops(self, crops) -> np.ndarray:
        """Probabilities for uint8 crops made with :attr:`crop`: ``(N, size, size)``, or
        ``(N, size, size, 3)`` BGR when the rule keeps colour."""
        crops = np.asarray(crops)
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)))
        return self.predict_proba(self.describe(crops))

    def describe(self, crops) -> np.ndarray:
        """The feature rows of crops made with :attr:`crop`, as :meth:`predict_proba` takes them."""
        return face_features(crops, **self.features)

    @property
    def crop_specs(self) -> tuple:
        """The crop rules whose crops :meth:`classify_crops` takes, in order (one here)."""
        return (self.crop,)

    @property
    def n_features(self) -> int:
        return self.coef.shape[1]

    # --------------------------------------------------------------- file --

    def save(self, path) -> None:
        """Write the model as ``.npz`` arrays plus a JSON header (no pickles)."""
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.gray is not None:
            arrays.update({"gray_" + name: getattr(self.gray, name) for name in _ARRAYS})
        save_npz(path, {"format": FORMAT, "format_version": FORMAT_VERSION, "classes": list(self.classes),
                        "n_features": self.n_features, "features": self.features,
                        "crop": self.crop.to_dict(), "info": self.info}, arrays)

    @classmethod
    def load(cls, path) -> "MaskClassifier":
        """Read a model written by :meth:`save`; refuse anything else.

        Raises
        ------
        ModelError
            Not a maskhog model, truncated, edited (checksum mismatch), made
            by a newer maskhog, or inconsistent with the feature settings.
        """
        header, arrays = load_npz(path, FORMAT, "model", _ARRAYS, _GRAY_ARRAYS, version=FORMAT_VERSION)
        try:
            crop, features = CropSpec.from_dict(header["crop"]), header.get("features", {})
            gray = None
            if "gray_coef" in arrays:
                gray = cls(header["classes"], *(arrays["gray_" + name] for name in _ARRAYS),
                           crop=replace(crop, color=False),
                           features={k: v for k, v in features.items() if k != "color"})
            return cls(header["classes"], arrays["coef"], arrays["intercept"], arrays["calib_a"],
                       arrays["calib_b"], crop=crop, features=features,
                       info=header.get("info", {}), gray=gray)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: inconsistent model: {exc}") from None

    def _check(self) -> None:
        if len(self.classes) < 2 or any(c not in CLASSES for c in self.classes):
            raise ValueError(f"classes must be two or three of {CLASSES}, got {self.classes}")
        if list(self.classes) != [c for c in CLASSES if c in self.classes]:
            raise ValueError(f"classes must follow the order of {CLASSES}")
        k = 1 if len(self.classes) == 2 else len(self.classes)
        if self.coef.ndim != 2 or self.coef.shape[0] != k:
            raise ValueError(f"coef must have {k} rows for {len(self.classes)} classes")
        for name in ("intercept", "calib_a", "calib_b"):
            if getattr(self, name).shape != (k,):
                raise ValueError(f"{name} must have shape ({k},)")
        if not all(np.isfinite(getattr(self, n)).all() for n in _ARRAYS):
            raise ValueError("model arrays contain NaN or infinite values")
        if "color" in self.features and not self.crop.color:
            raise ValueError("the features include colour cues but the crop rule makes gray crops")
        if self.gray is not None:
            if "color" not in self.features or "color" in self.gray.features:
                raise ValueError("a gray fallback belongs to a model with colour cues and has none itself")
            if self.gray.classes != self.classes:
                raise ValueError("the gray fallback must know the same classes")
        check_settings(self.features)
        size = self.crop.size
        blank = np.zeros((1, size, size, 3) if self.crop.color else (1, size, size), np.uint8)
        d = face_features(blank, **self.features).shape[1]
        if d != self.coef.shape[1]:
            raise ValueError(f"the model has {self.coef.shape[1]} weights but its feature "
                             f"settings give {d} features for {size}x{size} crops")
