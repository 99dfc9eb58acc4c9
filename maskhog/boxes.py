"""Face boxes: the one type every stage passes on, and the geometry they share.

A box is ``(x1, y1, x2, y2)`` in pixels of the image it was found in, ``x2``
and ``y2`` exclusive. Detectors return :class:`Face` records; training code
and the detectors measure how boxes overlap with the functions here, so that
"the same face" means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tuning

__all__ = ["Face", "overlap", "iou", "pairwise_overlap", "pairwise_iou", "nms", "same_face",
           "merge_duplicates", "square_box", "square_of_area", "square_around"]


@dataclass(frozen=True)
class Face:
    """A detected face: ``box = (x1, y1, x2, y2)`` in pixels, ``score`` higher is surer;
    ``pose``: found by dlib's pose templates beside maskhog's own
    (:class:`maskhog.detect.MaskHog`)."""

    box: tuple[int, int, int, int]
    score: float
    pose: bool = False


def overlap(a, b) -> tuple[float, float, float]:
    """Intersection area of boxes ``a`` and ``b``, and each box's area."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter, (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])


def iou(a, b) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    inter, area_a, area_b = overlap(a, b)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def pairwise_overlap(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`overlap` of every box of ``a`` (n, 4) with every box of ``b`` (m, 4):
    intersections ``(n, m)``, the areas of ``a`` ``(n, 1)`` and of ``b`` ``(1, m)``."""
    a = np.asarray(a, float).reshape(-1, 4)[:, None]
    b = np.asarray(b, float).reshape(-1, 4)[None]
    inter = (np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
             * np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None))
    return inter, (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]), (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def pairwise_iou(a, b) -> np.ndarray:
    """:func:`iou` of every box of ``a`` with every box of ``b``: ``(n, m)``."""
    inter, area_a, area_b = pairwise_overlap(a, b)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of ``(n, 4)`` boxes, best score first:
    a box goes when it overlaps a kept one at IoU above ``threshold``."""
    if len(boxes) == 0:
        return np.zeros(0, int)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        order = rest[inter <= threshold * (area[i] + area[rest] - inter)]
    return np.array(keep, int)


def same_face(inter, area_a, area_b, iou_at: float = tuning.DUPLICATE_IOU,
              cover_at: float = tuning.DUPLICATE_COVER):
    """Whether two boxes are one face: IoU of at least ``iou_at``, or their intersection
    covering ``cover_at`` of the smaller box. Works on numbers and on numpy arrays."""
    return (inter >= iou_at * (area_a + area_b - inter)) | (inter >= cover_at * np.minimum(area_a, area_b))


def merge_duplicates(faces: list[Face], iou_at: float = tuning.DUPLICATE_IOU,
                     cover_at: float = tuning.DUPLICATE_COVER) -> list[Face]:
    """Greedy non-maximum suppression of faces: keep the best of boxes that are one face
    (:func:`same_face`).

    Boxes of maskhog's own templates go first, then those of dlib's pose
    templates, which frame a face a little differently and find unmasked faces
    far more often than masked ones: had their boxes won by score, the mask
    classifier would learn the framing as a cue (docs/design.md#merge-order).
    """
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (f.pose, -f.score)):
        if not any(same_face(*overlap(f.box, k.box), iou_at, cover_at) for k in kept):
            kept.append(f)
    return kept


def square_box(box, margin: float = 0.0) -> tuple[float, float, float]:
    """Centre ``(cx, cy)`` and side of the square around ``box`` whose side is its longer
    side, grown by ``margin`` of that side on each side (the crop rule's square)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    return (x1 + x2) / 2, (y1 + y2) / 2, side


def square_around(box) -> np.ndarray:
    """:func:`square_box` without margin, as corners ``[x1, y1, x2, y2]``."""
    cx, cy, side = square_box(box)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], float)


def square_of_area(box) -> tuple[float, float, float]:
    """Centre and side of the square with the area of ``box`` (dlib's templates learn
    square windows; this keeps a face's size whatever its aspect ratio)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + x1) / 2, (y0 + y1) / 2, float(np.sqrt(max(w, 1) * max(h, 1)))
