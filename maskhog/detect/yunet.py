"""YuNet: a pretrained face detector network, as one of maskhog's face proposers.

Our own proposers learned from a few hundred annotated scene photos; YuNet
(Shiqi Yu et al., trained on the tens of thousands of faces of WIDER FACE,
Apache-2.0, shipped as ``face_yunet_n.onnx`` with its licence) finds faces
turned, blurred and small that they miss. It knows nothing of masks and, on
masked faces, calls some background a face: maskhog's verifier and mask
classifiers are what it lacks (docs/design.md#detector-yunet).

ONNX Runtime runs the network at the image's own size, and this module decodes
its outputs as OpenCV's ``cv2.FaceDetectorYN`` does (the same boxes and scores to
float precision): on one thread of our 640x480 frames ONNX Runtime takes about
10 ms where OpenCV's DNN module takes 24, and YuNet is most of the detector's
time (docs/design.md#yunet-runtime). Where ONNX Runtime is not installed,
``cv2.FaceDetectorYN`` runs it. Its boxes frame a face from the eyebrows to the
chin; :class:`YuNet` moves them onto maskhog's convention (:mod:`.convention`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..boxes import Face
from ..io import scaled, to_bgr
from ..messages import log
from ..modelfiles import ModelError, reason
from ..perthread import PerThread
from .. import tuning
from .convention import IDENTITY, BoxRule, load_rules

__all__ = ["YuNet", "YUNET_FILE", "log_odds", "decode_boxes", "grid", "input_blob"]

#: The network's file name in a detector folder.
YUNET_FILE = "face_yunet_n.onnx"
#: YuNet's three heads see the image at these strides; each cell of each proposes one face.
STRIDES = (8, 16, 32)
#: Its outputs, per stride: face class and objectness (0-1), box and five landmarks' offsets.
OUTPUTS = tuple(f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES)
#: Where its network runs: "auto" is ONNX Runtime where it is installed, else OpenCV.
BACKENDS = ("auto", "onnxruntime", "opencv")


def log_odds(p):
    """log(p / (1 - p)) of YuNet's scores, kept finite: the scale its score rule weighs them on."""
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def input_blob(image: np.ndarray) -> np.ndarray:
    """YuNet's input for a BGR image: padded right and down with black to a multiple of 32,
    raw 0-255 pixels in a ``(1, 3, h, w)`` float blob."""
    import cv2

    h, w = image.shape[:2]
    padded = cv2.copyMakeBorder(np.ascontiguousarray(image), 0, -h % 32, 0, -w % 32, cv2.BORDER_CONSTANT, value=0)
    return cv2.dnn.blobFromImage(padded)


def grid(shape, stride: int) -> np.ndarray:
    """Each cell's column and row ``(n_cells, 2)`` for an image of ``shape`` (padded as
    :func:`input_blob` pads it) at ``stride``, in the order of YuNet's outputs (row-major)."""
    rows, cols = -(-shape[0] // 32) * 32 // stride, -(-shape[1] // 32) * 32 // stride
    r, c = np.mgrid[:rows, :cols]
    return np.stack([c.ravel(), r.ravel()], 1).astype(np.float32)


def decode_boxes(bbox: np.ndarray, cells: np.ndarray, stride: int) -> np.ndarray:
    """Boxes ``(x1, y1, x2, y2)`` from YuNet's box outputs ``(n, 4)`` of ``cells``: a centre
    offset in cells and a log side, as ``cv2.FaceDetectorYN`` decodes them."""
    cx, cy = (cells[:, 0] + bbox[:, 0]) * stride, (cells[:, 1] + bbox[:, 1]) * stride
    w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


def decode(outputs: dict, shape, threshold: float, nms: float, top_k: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """YuNet's faces from its raw ``outputs`` (:data:`OUTPUTS`) of an image of ``shape``:
    boxes ``(n, 4)`` (x1, y1, x2, y2) and scores ``(n,)``, as ``cv2.FaceDetectorYN`` gives them:
    the score is the geometric mean of class and objectness, cells from ``threshold``, then
    OpenCV's own non-maximum suppression on the boxes in whole pixels."""
    import cv2

    boxes, scores = [], []
    for stride in STRIDES:
        cls, obj = (np.clip(outputs[f"{k}_{stride}"].reshape(-1), 0, 1) for k in ("cls", "obj"))
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= threshold)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        boxes.append(decode_boxes(bbox, grid(shape, stride)[keep], stride))
        scores.append(score[keep])
    boxes, scores = np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)
    if len(boxes) > 1:
        # OpenCV suppresses on boxes truncated to whole pixels (x, y, w, h); so do we, to agree.
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.int32)
        keep = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), threshold, nms, eta=1.0, top_k=top_k),
                          int).reshape(-1)
        boxes, scores = boxes[keep], scores[keep]
    return boxes, scores


def onnxruntime_session(path: Path, threads: int):
    """An ONNX Runtime session of YuNet's file, its input's height and width left free (the
    published file declares 640x640) and its declared output shapes dropped; None where ONNX
    Runtime is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    import onnx

    model = onnx.load_model_from_string(path.read_bytes())
    graph = model.graph
    if len(graph.input) != 1 or not {o.name for o in graph.output} >= set(OUTPUTS):
        raise ValueError(f"inputs {[i.name for i in graph.input]}, outputs {[o.name for o in graph.output]}: "
                         f"not YuNet's one image in and {', '.join(OUTPUTS)} out")
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"its input has {len(dims)} dimensions, not an image batch's 4")
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in graph.output:
        out.type.tensor_type.ClearField("shape")
    del graph.value_info[:]   # shapes inferred for 640x640 would contradict other sizes
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = max(1, threads), 1
    options.log_severity_level = 3
    # Idle pool threads would spin on the cores the live loop's other threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


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
    backend : {"auto", "onnxruntime", "opencv"}
        What runs the network: ONNX Runtime (``"auto"``, where it is installed) or OpenCV's
        ``cv2.FaceDetectorYN``; both give the same faces. Either runs on as many threads as
        OpenCV is set to use (``cv2.setNumThreads``).

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

    def __init__(self, path=None, threshold: float = 0.5, rule: BoxRule | None = None, nms: float = 0.3,
                 backend: str = "auto"):
        from .fhog import models_folder

        self.path = Path(path) if path else models_folder() / YUNET_FILE
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no YuNet face detector there")
        if backend not in BACKENDS:
            raise ValueError(f"unknown YuNet backend {backend!r}: use {', '.join(BACKENDS)}")
        if rule is None:
            rule = load_rules(self.path.parent).get("yunet", IDENTITY)
        self.threshold, self.rule, self.nms = float(threshold), rule, float(nms)
        self.backend = "opencv" if backend == "opencv" else "onnxruntime"
        # Fail now, with the file's name, if the network cannot be read or run.
        if self.backend == "onnxruntime" and self._session() is None:
            if backend == "onnxruntime":
                raise ModelError("YuNet's onnxruntime backend needs ONNX Runtime: pip install onnxruntime")
            self.backend = "opencv"
        self.raw(np.zeros((64, 64, 3), np.uint8))

    def _session(self):
        """This thread's ONNX Runtime session of the network, or None without ONNX Runtime."""
        import cv2

        def make():
            try:
                return onnxruntime_session(self.path, cv2.getNumThreads())
            except Exception as exc:   # protobuf's, ONNX's and ONNX Runtime's own errors alike
                raise ModelError(f"{self.path}: ONNX Runtime cannot read it as YuNet ({reason(exc)})") from None

        return self.per_thread("session", make)

    def _net(self, size):
        import cv2

        def make():
            try:
                return cv2.FaceDetectorYN.create(str(self.path), "", size, self.threshold, self.nms, 5000)
            except cv2.error as exc:
                raise ModelError(f"{self.path}: OpenCV cannot read it as YuNet ({reason(exc)})") from None

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
        threshold = self.threshold if threshold is None else float(threshold)
        if self.backend == "onnxruntime":
            boxes, scores = self._run_onnxruntime(bgr, threshold)
        else:
            boxes, scores = self._run_opencv(bgr, threshold)
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = boxes[ok], scores[ok]
        order = np.argsort(-scores, kind="stable")
        return boxes[order].astype(np.float64) / f, scores[order].astype(np.float64)

    def _run_onnxruntime(self, bgr: np.ndarray, threshold: float):
        blob = input_blob(bgr)
        session = self._session()
        try:
            outputs = dict(zip(OUTPUTS, session.run(list(OUTPUTS), {session.get_inputs()[0].name: blob})))
            return decode(outputs, bgr.shape, threshold, self.nms)
        except Exception as exc:   # ONNX Runtime's errors, or outputs of another network's shapes
            raise ModelError(f"{self.path}: ONNX Runtime cannot run it as YuNet ({reason(exc)})") from None

    def _run_opencv(self, bgr: np.ndarray, threshold: float):
        net = self._net((bgr.shape[1], bgr.shape[0]))
        net.setScoreThreshold(threshold)
        _, rows = net.detect(np.ascontiguousarray(bgr))
        if rows is None or not len(rows):
            return np.zeros((0, 4)), np.zeros(0)
        x, y, w, h = rows[:, :4].T
        return np.stack([x, y, x + w, y + h], 1), rows[:, -1]

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
