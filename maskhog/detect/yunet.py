"""YuNet: a pretrained face detector network, as one of maskhog's face proposers.

Our own proposers learned from a few hundred annotated scene photos; YuNet
(Shiqi Yu et al., trained on the tens of thousands of faces of WIDER FACE,
Apache-2.0, shipped as ``face_yunet_n.onnx`` with its licence) finds faces
turned, blurred and small that they miss. It knows nothing of masks and, on
masked faces, calls some background a face: maskhog's verifier and mask
classifiers are what it lacks (docs/design.md#detector-yunet).

OpenCV runs it (``cv2.FaceDetectorYN``) at the image's own size: no PyTorch.
Its boxes frame a face from the eyebrows to the chin; :class:`YuNet` moves
them onto maskhog's convention (:mod:`.convention`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..boxes import Face
from ..io import scaled, to_bgr
from ..messages import log
from ..modelfiles import ModelError
from ..perthread import PerThread
from .. import tuning
from .convention import IDENTITY, BoxRule, load_rules

__all__ = ["YuNet", "YUNET_FILE", "log_odds"]

#: The network's file name in a detector folder.
YUNET_FILE = "face_yunet_n.onnx"


def log_odds(p):
    """log(p / (1 - p)) of YuNet's scores, kept finite: the scale its score rule weighs them on."""
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class YuNet(PerThread):
    """Faces of a BGR (or gray) image by YuNet, in maskhog's box convention.

    Parameters
    ----------
    path : path
        The ONNX file (default: the shipped :data:`YUNET_FILE`).
    threshold : float
        YuNet's face score (0-1) from which a box is kept.
    rule : BoxRule, optional
        Maps YuNet's boxes onto the convention: default, the rule shipped beside the
        model (:func:`maskhog.detect.convention.load_rules`); ``BoxRule()``: YuNet's own boxes.
    nms : float
        YuNet's own non-maximum suppression IoU.

    Raises
    ------
    ModelError
        A file OpenCV cannot read as YuNet.
    """

    name = "yunet"
    #: Its smallest anchors see faces of about 10 px; below 20 it finds few.
    smallest_face = 20.0
    #: Images narrower than this (in either side) hold no face YuNet can see.
    SMALLEST_IMAGE = 16

    def __init__(self, path=None, threshold: float = 0.5, rule: BoxRule | None = None, nms: float = 0.3):
        from .fhog import models_folder

        self.path = Path(path) if path else models_folder() / YUNET_FILE
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no YuNet face detector there")
        if rule is None:
            rule = load_rules(self.path.parent).get("yunet", IDENTITY)
        self.threshold, self.rule, self.nms = float(threshold), rule, float(nms)
        self._net((64, 64))   # fail now, with the file's name, if OpenCV cannot read it

    def _net(self, size):
        import cv2

        def make():
            try:
                return cv2.FaceDetectorYN.create(str(self.path), "", size, self.threshold, self.nms, 5000)
            except cv2.error as exc:
                raise ModelError(f"{self.path}: OpenCV cannot read it as YuNet "
                                 f"({str(exc).strip().splitlines()[-1]})") from None

        net = self.per_thread("net", make)
        net.setInputSize(size)
        return net

    def raw(self, image: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """YuNet's own boxes ``(n, 4)`` (x1, y1, x2, y2, float, in pixels of ``image``) and scores
        ``(n,)`` from ``threshold`` (default :attr:`threshold`), best first."""
        if min(image.shape[:2]) < self.SMALLEST_IMAGE:   # no face fits; OpenCV gives garbage rows there
            return np.zeros((0, 4)), np.zeros(0)
        bgr = to_bgr(image)
        f = min(1.0, tuning.MAX_SIDE / max(bgr.shape[:2]))   # shrunk as the templates' image is
        if f < 1:   # said as the templates say it, since YuNet may be the only one to look
            log.warning("image of %dx%d pixels shrunk by %.3g to find faces", bgr.shape[1], bgr.shape[0], f)
            bgr = scaled(bgr, f)
        net = self._net((bgr.shape[1], bgr.shape[0]))
        net.setScoreThreshold(self.threshold if threshold is None else float(threshold))
        _, rows = net.detect(np.ascontiguousarray(bgr))
        if rows is None or not len(rows):
            return np.zeros((0, 4)), np.zeros(0)
        rows = rows[np.isfinite(rows).all(axis=1) & (rows[:, 2] > 0) & (rows[:, 3] > 0)]
        rows = rows[np.argsort(-rows[:, -1], kind="stable")]
        x, y, w, h = rows[:, :4].T.astype(np.float64) / f
        return np.stack([x, y, x + w, y + h], 1), rows[:, -1].astype(np.float64)

    def scored_boxes(self, image: np.ndarray, threshold: float | None = None) -> list[Face]:
        """YuNet's boxes from ``threshold`` as it frames them (in whole pixels), best first, each
        scored by YuNet's log-odds (:func:`log_odds`): what the verifier judges and the score rule
        weighs, at run time (:meth:`maskhog.detect.fhog.MaskHog.yunet_faces`) and in training."""
        boxes, scores = self.raw(image, threshold)
        return [Face(tuple(int(round(v)) for v in b), float(z)) for b, z in zip(boxes, log_odds(scores))]

    def detect(self, image: np.ndarray, threshold: float | None = None) -> list[Face]:
        """Faces of a BGR or gray uint8 image, best first, their boxes in the convention and
        their score YuNet's (0-1)."""
        boxes, scores = self.raw(image, threshold)
        return [Face(self.rule.apply(b), float(s)) for b, s in zip(boxes, scores)]
