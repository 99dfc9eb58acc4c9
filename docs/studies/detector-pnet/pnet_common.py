"""Shared parts of the P-Net proposal study: the data split, the tiny networks, the pyramid
scan with NMS, and the recall matching. Imported by the other scripts of this folder; not run alone."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

SCENES = Path(os.environ.get("MASKHOG_DATA", "../shared/data")) / "scenes"
MIN_SIDE = 24      # a face counts when its shorter side is at least this
MATCH_IOU = 0.4    # and is proposed when some proposal overlaps it this much


def split():
    """(boxed, learn, held, test), exactly as the study's brief fixes them."""
    from maskhog.detector_training import _split_scenes
    boxed, (train, val, test) = _split_scenes([SCENES], 0)
    fit = train + val
    held = fit[::5]
    learn = [p for i, p in enumerate(fit) if i % 5]
    return boxed, learn, held, test


# ---------------------------------------------------------------- networks
#: Channels of the three layers of the stride-4 networks: p16s4, wider (w), wider still (x, ~30k parameters).
P16S4 = {"p16s4": (16, 24, 32), "p16s4w": (16, 32, 48), "p16s4x": (24, 40, 56)}


class PNet(nn.Module):
    """Fully convolutional: a ``win``-px colour window in, one face logit and four box
    offsets (x1, y1, x2, y2, in window sides) out; output stride ``stride`` px."""

    def __init__(self, arch: str = "p12"):
        super().__init__()
        self.arch = arch
        if arch == "p12":          # MTCNN P-Net shape, slimmer: 12 -> 10 -> 5 -> 3 -> 1, stride 2
            self.win, self.stride = 12, 2
            self.body = nn.Sequential(
                nn.Conv2d(3, 10, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(10, 16, 3), nn.ReLU(),
                nn.Conv2d(16, 24, 3), nn.ReLU())
            c = 24
        elif arch in P16S4:        # 16 -> 7 -> 3 -> 1, stride 4; three widths
            a, b, c = P16S4[arch]
            self.win, self.stride = 16, 4
            self.body = nn.Sequential(
                nn.Conv2d(3, a, 4, stride=2), nn.ReLU(),
                nn.Conv2d(a, b, 3, stride=2), nn.ReLU(),
                nn.Conv2d(b, c, 3), nn.ReLU())
        elif arch == "p16s2":      # 16 -> 7 (4x4 s2) -> 5 -> 3 -> 1, stride 2
            self.win, self.stride = 16, 2
            self.body = nn.Sequential(
                nn.Conv2d(3, 12, 4, stride=2), nn.ReLU(),
                nn.Conv2d(12, 16, 3), nn.ReLU(),
                nn.Conv2d(16, 24, 3), nn.ReLU(),
                nn.Conv2d(24, 32, 3), nn.ReLU())
            c = 32
        else:
            raise ValueError(arch)
        self.head = nn.Conv2d(c, 5, 1)

    def forward(self, x):
        return self.head(self.body(x))


def load_net(path):
    # Trained weights give denormal activations that slow x86 convolution some 40 times.
    torch.set_flush_denormal(True)
    state = torch.load(path, map_location="cpu", weights_only=False)
    net = PNet(state["arch"])
    net.load_state_dict(state["weights"])
    net.eval()
    return net


def to_tensor(bgr: np.ndarray) -> torch.Tensor:
    """uint8 BGR (H, W, 3) or (N, H, W, 3) -> float (N, 3, H, W), about [-1, 1]."""
    a = np.ascontiguousarray(bgr)
    if a.ndim == 3:
        a = a[None]
    t = torch.from_numpy(a).permute(0, 3, 1, 2).float()
    return (t - 127.5) / 128.0


# ---------------------------------------------------------------- scanning
def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    if len(boxes) == 0:
        return np.zeros(0, int)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        r = order[1:]
        w = np.clip(np.minimum(x2[i], x2[r]) - np.maximum(x1[i], x1[r]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[r]) - np.maximum(y1[i], y1[r]), 0, None)
        inter = w * h
        o = inter / (area[i] + area[r] - inter + 1e-9)
        order = r[o <= iou]
    return np.array(keep, int)


def scales(h: int, w: int, win: int, min_face: float = MIN_SIDE, factor: float = 0.7):
    s = win / min_face
    out = []
    while min(h, w) * s >= win:
        out.append(s)
        s *= factor
    return out


@torch.inference_mode()
def scan(net: PNet, image: np.ndarray, threshold: float = 0.0, top_k: int | None = None,
         min_face: float = MIN_SIDE, factor: float = 0.7, iou: float = 0.5,
         level_cap: int | None = None):
    """Proposals of a BGR uint8 image: (boxes (n, 4) float in image pixels, logits (n,)), best first.

    ``threshold`` is on the face logit. NMS at ``iou`` within each level, then across levels;
    ``top_k`` keeps the best k. ``level_cap`` keeps at most that many per level before NMS."""
    h, w = image.shape[:2]
    all_b, all_s = [], []
    level = image
    for s in scales(h, w, net.win, min_face, factor):
        hs, ws = int(math.ceil(h * s)), int(math.ceil(w * s))
        # the first level by pixel area (0.5 exactly is fast), each next one from the last, bilinear
        interp = cv2.INTER_AREA if level is image else cv2.INTER_LINEAR
        level = cv2.resize(level, (ws, hs), interpolation=interp)
        out = net(to_tensor(level))[0].numpy()
        logit = out[0]
        ys, xs = np.nonzero(logit >= threshold)
        if len(ys) == 0:
            continue
        sc = logit[ys, xs]
        if level_cap and len(sc) > level_cap:
            sel = np.argpartition(-sc, level_cap)[:level_cap]
            ys, xs, sc = ys[sel], xs[sel], sc[sel]
        side = net.win / s
        x0 = xs * net.stride / s
        y0 = ys * net.stride / s
        reg = out[1:, ys, xs]
        b = np.stack([x0 + reg[0] * side, y0 + reg[1] * side,
                      x0 + side + reg[2] * side, y0 + side + reg[3] * side], 1)
        k = nms(b, sc, iou)
        all_b.append(b[k])
        all_s.append(sc[k])
    if not all_b:
        return np.zeros((0, 4)), np.zeros(0)
    b = np.concatenate(all_b)
    sc = np.concatenate(all_s)
    k = nms(b, sc, iou)
    if top_k is not None:
        k = k[:top_k]
    return b[k], sc[k]


# ---------------------------------------------------------------- matching
def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def counted(faces):
    """The faces of a photo that count: shorter side >= MIN_SIDE."""
    return [(lab, box) for lab, box in faces if min(box[2] - box[0], box[3] - box[1]) >= MIN_SIDE]


def proposed_flags(faces, boxes) -> np.ndarray:
    """For each counted face (label, box), whether some proposal box overlaps it at IoU >= 0.4."""
    if not faces:
        return np.zeros(0, bool)
    if len(boxes) == 0:
        return np.zeros(len(faces), bool)
    m = iou_matrix(np.array([b for _, b in faces]), np.asarray(boxes))
    return (m >= MATCH_IOU).any(1)
