"""A tiny CNN that proposes face boxes beside the fHOG templates (a P-Net, MTCNN's first stage).

The templates see faces by their gray gradients and miss many that are turned,
blurred or covered; this network learned colour windows of the same scene
photos and proposes other faces. Neither decides: the face verifier
(:mod:`maskhog.detect.verify`) judges every proposal of both. On the test scene
photos of its study, the templates from -1.4 propose 0.86 / 0.82 of the
masked / unmasked faces, and with a network like this one 0.95 / 0.96; the
detector then keeps 0.82 / 0.74 at precision 0.90, against 0.80 / 0.70 at 0.92
without it (docs/design.md#detector-pnet).

The network is fully convolutional: a 16-px colour window in, a face logit and
four box offsets out, every 4 px of an image pyramid. Its file is an ONNX graph
with a maskhog header (``maskhog train-detector`` writes it), run by OpenCV DNN:
no PyTorch at run time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import tuning
from ..boxes import nms
from ..modelfiles import ModelError, dry_run, onnx_net, pick_backend, read_onnx, save_onnx
from ..perthread import PerThread

__all__ = ["ProposalNet", "PROPOSAL_FILE", "FORMAT", "FORMAT_VERSION", "INPUT_NAME", "pyramid_scales",
           "save_proposals", "scan_pyramid"]

PROPOSAL_FILE = "face_proposals.onnx"
FORMAT = "maskhog-proposals"
FORMAT_VERSION = 1
INPUT_NAME = "image"


def pyramid_scales(height: int, width: int, window: int, min_face: float, factor: float) -> list[float]:
    """The scales an image is searched at: the first makes a ``min_face``-px face fill the
    ``window``, each next one is ``factor`` times the last, down to an image one window high."""
    s, out = window / min_face, []
    while min(height, width) * s >= window:
        out.append(s)
        s *= factor
    return out


class ProposalNet(PerThread):
    """Face proposals of a colour image from a maskhog proposal network.

    Parameters
    ----------
    path : path
        An ONNX file made by ``maskhog train-detector`` (:data:`PROPOSAL_FILE`).
    backend : {"auto", "cuda", "opencl", "cpu"}
        Where OpenCV DNN runs it.

    Attributes
    ----------
    window, stride : int
        The network's window and output step, in pixels of the level searched.
    threshold : float
        The face logit from which a window is a proposal (chosen in training).
    min_face : float
        The smallest face searched for, in pixels of the image given.

    Raises
    ------
    ModelError
        For a file that is not one: another network, a damaged or edited file.
    """

    def __init__(self, path, *, backend: str = "auto"):
        self.path = Path(path)
        self.onnx, self.info = _read(self.path)
        try:
            self.window, self.stride = int(self.info["window"]), int(self.info["stride"])
            self.threshold, self.min_face = float(self.info["threshold"]), float(self.info["min_face"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{self.path}: damaged proposal header ({type(exc).__name__}: {exc})") from None
        if not (8 <= self.window <= 256 and 1 <= self.stride <= self.window and self.min_face > 0):
            raise ModelError(f"{self.path}: proposal header gives window {self.window}, stride "
                             f"{self.stride}, min_face {self.min_face}: no such network is trained")
        self.dnn = pick_backend(backend)

        def check():   # fail now, with a message, if OpenCV cannot run it or its output is not maps
            out = self.maps(np.zeros((self.window, self.window, 3), np.uint8))
            if out.ndim != 3 or out.shape[0] != 5:
                raise ModelError(f"{self.path}: the network gives output {out.shape}, not 5 maps")
        dry_run(check, self.path)

    def _net(self):
        return self.per_thread("net", lambda: onnx_net(self.onnx, self.dnn, self.path))

    def maps(self, level: np.ndarray) -> np.ndarray:
        """The network's output over one BGR uint8 image: ``(5, rows, cols)``, the face logit and
        the box offsets of the window at ``(row, col) * stride``."""
        net = self._net()
        net.setInput(np.ascontiguousarray(level.transpose(2, 0, 1)[None], dtype=np.float32), INPUT_NAME)
        return net.forward()[0]

    def propose(self, image: np.ndarray, threshold: float | None = None, min_face: float | None = None):
        """Proposed face boxes of a BGR uint8 image: ``(boxes (n, 4) float, logits (n,))``, best first.

        ``threshold`` (default :attr:`threshold`) is on the face logit; ``min_face`` (default
        :attr:`min_face`) is the smallest face searched for, in pixels of ``image``."""
        boxes, logits = scan_pyramid(self.maps, image, self.window, self.stride,
                                     self.threshold if threshold is None else float(threshold),
                                     self.min_face if min_face is None else float(min_face),
                                     tuning.PYRAMID_FACTOR, tuning.PROPOSAL_NMS_IOU)
        return boxes.astype(np.float64), logits.astype(np.float64)


def scan_pyramid(maps, image: np.ndarray, window: int, stride: int, threshold: float, min_face: float,
                 factor: float = tuning.PYRAMID_FACTOR, iou: float = tuning.PROPOSAL_NMS_IOU,
                 level_cap: int | None = None):
    """The windows of an image pyramid whose face logit is ``threshold`` or more, as boxes moved
    by their offsets, in pixels of ``image``, best first (non-maximum suppression within each
    level, then across levels). ``maps(level)`` gives the network's ``(5, rows, cols)`` output of
    a BGR level (:meth:`ProposalNet.maps`, or PyTorch's in training); ``level_cap`` keeps a
    level's best that many windows only."""
    import cv2

    h, w = image.shape[:2]
    found_boxes, found_logits = [], []
    level = image
    for s in pyramid_scales(h, w, window, min_face, factor):
        size = (int(math.ceil(w * s)), int(math.ceil(h * s)))
        # The first level by pixel area, each next from the last: cheaper than from the image.
        level = cv2.resize(level, size, interpolation=cv2.INTER_AREA if level is image else cv2.INTER_LINEAR)
        out = maps(level)
        rows, cols = np.nonzero(out[0] >= threshold)
        if level_cap and len(rows) > level_cap:
            best = np.argpartition(-out[0, rows, cols], level_cap)[:level_cap]
            rows, cols = rows[best], cols[best]
        if len(rows) == 0:
            continue
        logits = out[0, rows, cols]
        side = window / s                          # the window, in pixels of the image
        x0, y0 = cols * stride / s, rows * stride / s
        dx1, dy1, dx2, dy2 = out[1:, rows, cols] * side
        boxes = np.stack([x0 + dx1, y0 + dy1, x0 + side + dx2, y0 + side + dy2], 1)
        keep = nms(boxes, logits, iou)
        found_boxes.append(boxes[keep])
        found_logits.append(logits[keep])
    if not found_boxes:
        return np.zeros((0, 4)), np.zeros(0)
    boxes, logits = np.concatenate(found_boxes), np.concatenate(found_logits)
    keep = nms(boxes, logits, iou)
    return boxes[keep], logits[keep]


def _read(path: Path) -> tuple[bytes, dict]:
    """The bytes and checked header of a maskhog proposal network; :class:`ModelError` if unusable."""
    data, model, info = read_onnx(path, FORMAT, FORMAT_VERSION, kind="proposal network",
                                  maker="maskhog train-detector")
    if INPUT_NAME not in [i.name for i in model.graph.input]:
        raise ModelError(f"{path}: the graph has no input named {INPUT_NAME!r}")
    return data, info


def save_proposals(model, path, header: dict) -> None:
    """Write an ONNX proposal network ``model`` with a maskhog ``header``."""
    save_onnx(model, path, header, FORMAT, FORMAT_VERSION)
