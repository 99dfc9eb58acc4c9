"""A face detector network of your own, run by OpenCV DNN (``--detector-model FILE``).

For users with a better face detector than maskhog's, or a GPU to run one: any
network OpenCV can read (Caffe, ONNX, TensorFlow, ...) whose output is in one of
these layouts:

``ssd``
    Networks that end in an SSD ``DetectionOutput`` layer: one ``(1, 1, N, 7)``
    array of ``[image, class, score, x1, y1, x2, y2]`` rows, corners in
    fractions of the input. OpenCV's own ResNet-10 face detector
    (``deploy.prototxt`` + ``res10_300x300_ssd_iter_140000.caffemodel``) is
    one; its input settings (300x300, mean ``(104, 177, 123)``) are the defaults.
``aizoo``
    The AIZOO face-mask SSD (260x260, MIT licence): raw box offsets and class
    scores per anchor, decoded here with its anchors. Its mask verdict is
    ignored: maskhog's own classifier judges the faces it finds.

Both squeeze the whole image into the network's fixed input, so small faces
in large images are lost; enlarging the image does not help (``smallest_face``
is ``None``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..boxes import Face, merge_duplicates
from ..io import to_bgr
from ..modelfiles import open_net, pick_backend, reason
from ..perthread import PerThread

__all__ = ["DnnDetector", "LAYOUTS", "aizoo_anchors", "decode_anchors"]

#: Input settings per layout: size (width, height), scale, mean (per channel, in the
#: network's channel order), and whether to swap BGR to RGB.
LAYOUTS = {"ssd": {"size": (300, 300), "scale": 1.0, "mean": (104.0, 177.0, 123.0), "swap_rb": False},
           "aizoo": {"size": (260, 260), "scale": 1 / 255.0, "mean": (0.0, 0.0, 0.0), "swap_rb": True}}

_AIZOO_OUTPUTS = ("loc_branch_concat", "cls_branch_concat")


def aizoo_anchors() -> np.ndarray:
    """The AIZOO SSD's anchors, ``(5972, 4)`` rows of centre x, centre y, width, height
    in fractions of the input: five feature maps, two sizes and two more aspect ratios each."""
    anchors = []
    for side, sizes in zip([33, 17, 9, 5, 3], [[0.04, 0.056], [0.08, 0.11], [0.16, 0.22],
                                                [0.32, 0.45], [0.64, 0.72]]):
        c = (np.arange(side) + 0.5) / side
        cx, cy = np.meshgrid(c, c)
        shapes = [(s, s) for s in sizes] + [(sizes[0] * np.sqrt(r), sizes[0] / np.sqrt(r)) for r in (0.62, 0.42)]
        a = np.stack([np.stack([cx, cy, np.full_like(cx, w), np.full_like(cx, h)], -1) for w, h in shapes], 2)
        anchors.append(a.reshape(-1, 4))
    return np.concatenate(anchors)


def decode_anchors(loc: np.ndarray, anchors: np.ndarray, variances=(0.1, 0.2)) -> np.ndarray:
    """SSD box offsets ``(N, 4)`` on ``anchors`` (centre-size form) as corners ``(N, 4)``,
    in fractions of the input."""
    a = anchors
    cx = loc[:, 0] * variances[0] * a[:, 2] + a[:, 0]
    cy = loc[:, 1] * variances[0] * a[:, 3] + a[:, 1]
    w, h = np.exp(loc[:, 2] * variances[1]) * a[:, 2], np.exp(loc[:, 3] * variances[1]) * a[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


class DnnDetector(PerThread):
    """A face detector in a model file, run by OpenCV DNN.

    Parameters
    ----------
    model : path
        The network's weights (``.caffemodel``, ``.onnx``, ``.pb``, ...).
    config : path, optional
        Its description where the format has one (``.prototxt``, ``.pbtxt``).
    layout : {"auto", "ssd", "aizoo"}
        How to read its output (module docstring); ``auto`` tells them apart
        by the network's output layers.
    threshold : float
        Faces scoring at least this (0-1) are kept.
    size, scale, mean, swap_rb : optional
        Input settings, when the network wants others than its layout's defaults.
    face_class : int, optional
        ``ssd`` only: the class that is a face (default: every class but 0,
        the background).
    backend : {"auto", "cuda", "opencl", "cpu"}
        Where OpenCV runs it (:func:`maskhog.modelfiles.pick_backend`); :attr:`backend` says which.

    Raises
    ------
    ValueError
        The file is missing, OpenCV cannot read it, or its output is in no
        layout maskhog reads.
    """

    smallest_face = None   # a fixed input size: enlarging the image finds no smaller faces

    def __init__(self, model, config=None, *, layout: str = "auto", threshold: float = 0.5, size=None,
                 scale=None, mean=None, swap_rb=None, face_class=None, backend: str = "auto"):
        self.model = Path(model)
        self.config = Path(config) if config else None
        for path in (self.model, self.config):
            if path is not None and not path.is_file():
                raise ValueError(f"{path}: no such model file")
        self.name = f"dnn:{self.model.name}"
        self.threshold = float(threshold)
        self.face_class = face_class
        self.dnn = pick_backend(backend)
        self.backend = self.dnn[2]
        names = self._net().getUnconnectedOutLayersNames()
        guess = "aizoo" if set(_AIZOO_OUTPUTS) <= set(names) else "ssd"
        if layout not in ("auto", *LAYOUTS):
            raise ValueError(f"unknown layout {layout!r}: use auto, {', '.join(LAYOUTS)}")
        self.layout = guess if layout == "auto" else layout
        given = {"size": size, "scale": scale, "mean": mean, "swap_rb": swap_rb}
        self.input = {k: given[k] if given[k] is not None else v for k, v in LAYOUTS[self.layout].items()}
        self.input["size"] = tuple(int(v) for v in self.input["size"])
        if self.layout == "aizoo":
            self._anchors = aizoo_anchors()
        self._outputs(np.zeros((self.input["size"][1], self.input["size"][0], 3), np.uint8))   # fail now

    def _net(self):
        def read():
            import cv2

            return open_net(lambda: cv2.dnn.readNet(str(self.model), str(self.config or "")), self.dnn,
                            f"{self.model}: OpenCV cannot read this network", ValueError)

        return self.per_thread("net", read)

    def _outputs(self, bgr: np.ndarray) -> list:
        """The network's raw outputs for one BGR image, checked against the layout."""
        import cv2

        p = self.input
        blob = cv2.dnn.blobFromImage(bgr, p["scale"], p["size"], p["mean"], swapRB=p["swap_rb"], crop=False)
        net = self._net()
        net.setInput(blob)
        try:
            outs = net.forward(list(_AIZOO_OUTPUTS)) if self.layout == "aizoo" else [net.forward()]
        except cv2.error as exc:
            raise ValueError(f"{self.model}: the network fails on a {p['size'][0]}x{p['size'][1]} input "
                             f"({reason(exc)})") from None
        shape = outs[0].shape
        if self.layout == "ssd" and (outs[0].ndim != 4 or shape[-1] != 7):
            raise ValueError(f"{self.model}: its output of shape {shape} is not an SSD DetectionOutput "
                             "(1, 1, N, 7): maskhog reads the layouts 'ssd' and 'aizoo' only")
        n = len(self._anchors) if self.layout == "aizoo" else 0
        if n and (outs[0].size != 4 * n or outs[1].size % n):
            raise ValueError(f"{self.model}: its outputs {shape}, {outs[1].shape} do not fit the AIZOO anchors")
        return outs

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first."""
        bgr = to_bgr(image)
        h, w = bgr.shape[:2]
        if h == 0 or w == 0:
            return []
        outs = self._outputs(bgr)
        if self.layout == "aizoo":
            boxes = decode_anchors(outs[0].reshape(-1, 4), self._anchors)
            scores = outs[1].reshape(len(self._anchors), -1).max(axis=1)   # face, masked or not
        else:
            rows = outs[0].reshape(-1, 7)
            face = rows[:, 1] > 0 if self.face_class is None else rows[:, 1] == self.face_class
            rows = rows[face]
            boxes, scores = rows[:, 3:7], rows[:, 2]
        keep = scores >= self.threshold
        boxes = np.clip(boxes[keep], 0.0, 1.0) * [w, h, w, h]
        faces = [Face(tuple(int(round(v)) for v in b), float(s)) for b, s in zip(boxes, scores[keep])
                 if b[2] - b[0] >= 1 and b[3] - b[1] >= 1]
        return merge_duplicates(faces)
