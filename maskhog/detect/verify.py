"""A second opinion on each face the detector proposes: face, or background?

maskhog's fHOG templates rank faces well but, alone, must keep a high
threshold to stay precise, and miss many masked faces. Run at a low
threshold instead, they propose most faces and much background; a linear
SVM then looks at each proposal with the features the mask classifier uses
(HOG + LBP of the gray crop, and colour cues: skin shows on a face, and a
mask has a colour of its own) plus the template's score, and keeps the faces.

A small CNN (:class:`CnnFaceVerifier`, ``face_verifier.onnx``) does the
same job better, for about 0.35 ms per proposal: it sees the colour crop
itself. Where a detector's folder holds one, it is used; else the linear one.

Colour is what makes both work: on crops without colour (gray or infrared
frames) they would drop unmasked faces, so there a proposal is kept when the
template's score alone passes the templates' own threshold, as without a
verifier. The linear verifier's file is arrays in ``.npz`` with a JSON
header, the CNN's an ONNX graph with one (:mod:`maskhog.modelfiles`):
loading never unpickles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import tuning
from ..classify import CnnClassifier, neutral_chroma
from ..crops import CropSpec, crop_faces
from ..features import check_settings, color_features, face_features
from ..io import to_bgr
from ..modelfiles import ModelError, load_npz, save_npz

__all__ = ["FaceVerifier", "CnnFaceVerifier", "VERIFIER_FILE", "CNN_VERIFIER_FILE", "FACE_CLASSES",
           "FORMAT", "describe_proposals", "load_verifier"]

FORMAT = "maskhog-face-verifier"
FORMAT_VERSION = 1
#: File names inside a detector's template folder: the linear verifier and the CNN one.
VERIFIER_FILE = "face_verifier.npz"
CNN_VERIFIER_FILE = "face_verifier.onnx"
#: The CNN verifier's two classes, in the order of its outputs.
FACE_CLASSES = ("background", "face")


def _keep(image: np.ndarray, faces, fallback: float, judge) -> list:
    """The proposals that ``judge(bgr image, faces) -> (is face, colourless)`` calls faces;
    on a gray image, and for crops without colour, those whose template score is at
    least ``fallback``."""
    if not faces:
        return []
    if np.ndim(image) == 2:
        return [f for f in faces if f.score >= fallback]
    if image.shape[2] != 3:   # BGRA and the like
        image = to_bgr(image)
    verdict, colourless = judge(image, faces)
    plain = np.array([f.score >= fallback for f in faces])
    return [f for f, ok in zip(faces, np.where(colourless, plain, verdict)) if ok]


def describe_proposals(image: np.ndarray, faces, crop: CropSpec, features: dict) -> np.ndarray:
    """What the verifier sees of each proposal: its crop's features, then its template score."""
    crops = crop_faces(image, [f.box for f in faces], crop)
    X = face_features(crops, **features)
    return np.hstack([X, np.array([[f.score] for f in faces], np.float32)])


class FaceVerifier:
    """Keep the proposals whose crop looks like a face.

    Parameters
    ----------
    coef : (D + 1,) array
        Weights on the crop's features and, last, the template's score.
    intercept, threshold : float
        A proposal is a face when ``coef . x + intercept >= threshold``.
    candidate_threshold : float
        The template score from which proposals are looked at.
    crop : CropSpec
        Colour crops, cut as :func:`maskhog.crops.crop_faces` does.
    features : dict
        Settings of :func:`maskhog.features.face_features` (with ``color``).
    header : dict, optional
        Training record kept with the file.
    """

    def __init__(self, coef, intercept, threshold, candidate_threshold, *, crop: CropSpec,
                 features: dict, header: dict | None = None):
        self.coef = np.asarray(coef, np.float64).ravel()
        self.intercept = float(intercept)
        self.threshold = float(threshold)
        self.candidate_threshold = float(candidate_threshold)
        self.crop = crop
        self.features = dict(features)
        self.header = dict(header or {})
        if not crop.color or "color" not in self.features:
            raise ValueError("a face verifier needs colour crops and colour cues")
        check_settings(self.features)
        blank = np.zeros((1, crop.size, crop.size, 3), np.uint8)
        d = face_features(blank, **self.features).shape[1] + 1
        if self.coef.shape != (d,) or not np.isfinite(self.coef).all() or not np.isfinite(self.intercept):
            raise ValueError(f"a face verifier needs {d} finite weights, got {self.coef.shape[0]}")

    def describe(self, image: np.ndarray, faces) -> np.ndarray:
        """Features of each proposal (:func:`describe_proposals`)."""
        return describe_proposals(image, faces, self.crop, self.features)

    def colourless(self, X) -> np.ndarray:
        """Which rows come from crops without colour (:func:`maskhog.classify.neutral_chroma`);
        the chroma means come just before the template score."""
        grid = self.features["color"].get("chroma_grid", 4)
        return neutral_chroma(np.asarray(X)[:, -1 - 2 * grid * grid:-1])

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.coef + self.intercept

    def keep(self, image: np.ndarray, faces, fallback: float) -> list:
        """The proposals that are faces.

        ``image`` is the BGR (or gray) image the boxes refer to; on a gray
        image, and for crops without colour, a proposal stays when its
        template score is at least ``fallback``.
        """
        def judge(bgr, faces):
            X = self.describe(bgr, faces)
            return self.decision_function(X) >= self.threshold, self.colourless(X)

        return _keep(image, faces, fallback, judge)

    def save(self, path) -> None:
        arrays = {"coef": self.coef, "intercept": np.array([self.intercept])}
        save_npz(path, {"format": FORMAT, "format_version": FORMAT_VERSION, "threshold": self.threshold,
                        "candidate_threshold": self.candidate_threshold, "crop": self.crop.to_dict(),
                        "features": self.features,
                        **{k: v for k, v in self.header.items() if k not in ("format", "format_version", "sha256")}},
                 arrays)

    @classmethod
    def load(cls, path) -> "FaceVerifier":
        """Read a verifier file, refusing anything that is not one (never unpickles)."""
        header, arrays = load_npz(path, FORMAT, "face verifier", ("coef", "intercept"), version=FORMAT_VERSION)
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{path}: face verifier format {header.get('format_version')!r}, "
                             f"this maskhog reads {FORMAT_VERSION}")
        try:
            return cls(arrays["coef"], float(arrays["intercept"][0]), header["threshold"],
                       header["candidate_threshold"], crop=CropSpec.from_dict(header["crop"]),
                       features=header["features"], header=header)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelError(f"{path}: face verifier header is not valid ({exc})") from None


class _FaceCnn(CnnClassifier):
    """The CNN verifier's network: a maskhog CNN file whose classes are :data:`FACE_CLASSES`."""

    KNOWN_CLASSES = FACE_CLASSES


class CnnFaceVerifier:
    """Keep the proposals that a small CNN calls faces.

    Parameters
    ----------
    path : path
        An ONNX file (``face_verifier.onnx``) with a maskhog header whose
        classes are :data:`FACE_CLASSES`, whose crop rule is in colour, and
        whose ``verifier`` entry gives ``threshold`` (on the face probability
        of the crop alone), ``candidate_threshold`` (the template score from
        which proposals are looked at) and, optionally, ``score``: the rule
        the detector keeps proposals by (:meth:`face_scores`).
    backend : {"auto", "cuda", "opencl", "cpu"}
        Where OpenCV DNN runs it.

    Raises
    ------
    ModelError
        For anything else: a mask classifier, a damaged or edited file.
    """

    def __init__(self, path, *, backend: str = "auto"):
        self.net = _FaceCnn(path, backend=backend)
        self.path, self.crop, self.header = self.net.path, self.net.crop, self.net.info
        settings = self.header.get("verifier")
        if tuple(self.net.classes) != FACE_CLASSES or not self.crop.color or not isinstance(settings, dict):
            raise ModelError(f"{path}: not a maskhog face verifier (classes {self.net.classes}, "
                             f"colour {self.crop.color}, verifier settings {settings!r})")
        try:
            self.threshold = float(settings["threshold"])
            self.candidate_threshold = float(settings["candidate_threshold"])
            # Without a score rule: the crop's log-odds alone, at the threshold.
            score = settings.get("score") or {"mirror": False, "template_weight": 0.0,
                                              "threshold": float(np.log(self.threshold / (1 - self.threshold)))}
            self.mirror = bool(score["mirror"])
            self.template_weight = float(score["template_weight"])
            self.score_threshold = float(score["threshold"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise ModelError(f"{path}: face verifier settings are not valid ({exc})") from None

    def face_scores(self, crops, template_scores, threshold: float | None = None,
                    weight: float | None = None) -> np.ndarray:
        """The score each proposal is kept by: the network's face log-odds of its crop, plus
        :attr:`template_weight` times the template's score; where :attr:`mirror`, the crop's
        odds are averaged with its mirror image's wherever that could turn the verdict (within
        :data:`maskhog.tuning.MIRROR_BAND` of :attr:`score_threshold`). A second look and the
        template's own opinion keep more faces at the same precision (docs/design.md#verifier-score).
        ``threshold``: the one the scores will be cut at, when not :attr:`score_threshold`;
        ``weight``: the proposer score's weight, when not :attr:`template_weight` (YuNet's log-odds
        have their own, in ``face_yunet.json``)."""
        crops = np.asarray(crops)
        odds = self._odds(crops)
        weight = self.template_weight if weight is None else float(weight)
        score = odds + weight * np.asarray(template_scores, np.float64)
        if self.mirror:
            cut = self.score_threshold if threshold is None else threshold
            near = np.flatnonzero(np.abs(score - cut) <= tuning.MIRROR_BAND)
            if len(near):
                score[near] += (self._odds(crops[near][:, :, ::-1]) - odds[near]) / 2
        return score

    def _odds(self, crops) -> np.ndarray:
        """Face log-odds: the network's face logit minus its background logit."""
        z = self.net.logits(np.ascontiguousarray(crops))
        return z[:, 1] - z[:, 0]

    def keep(self, image: np.ndarray, faces, fallback: float, threshold: float | None = None,
             score_threshold: float | None = None, weight: float | None = None) -> list:
        """The proposals that are faces (as :meth:`FaceVerifier.keep`): a score of
        ``score_threshold`` (default :attr:`score_threshold`) or more (:meth:`face_scores`, the
        proposer's score weighed by ``weight`` where given), or, when ``threshold`` is given, a
        face probability of the crop alone of ``threshold`` or more."""
        cut = self.score_threshold if score_threshold is None else float(score_threshold)

        def judge(bgr, faces):
            crops = crop_faces(bgr, [f.box for f in faces], self.crop)
            chroma = color_features(crops)[:, -32:]   # mean Cr, Cb of a 4x4 grid
            if threshold is None:
                verdict = self.face_scores(crops, [f.score for f in faces], cut, weight) >= cut
            else:
                verdict = self.net.classify_crops(crops)[:, 1] >= threshold
            return verdict, neutral_chroma(chroma)

        return _keep(image, faces, fallback, judge)


def load_verifier(folder, kind: str = "auto", *, backend: str = "auto"):
    """The face verifier in a detector's ``folder``: ``kind="cnn"`` or ``"linear"``, or
    ``"auto"``: the CNN one where the folder has it, else the linear one, else ``None``."""
    folder = Path(folder)
    if kind not in ("auto", "cnn", "linear"):
        raise ValueError(f"unknown verifier {kind!r}: use auto, cnn or linear")
    if kind == "cnn" or (kind == "auto" and (folder / CNN_VERIFIER_FILE).is_file()):
        return CnnFaceVerifier(folder / CNN_VERIFIER_FILE, backend=backend)
    if kind == "linear" or (folder / VERIFIER_FILE).is_file():
        return FaceVerifier.load(folder / VERIFIER_FILE)
    return None
