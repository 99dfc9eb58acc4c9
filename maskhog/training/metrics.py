"""Honest figures: for a mask classifier on faces it never saw, and for a face detector.

:func:`classification_metrics` gives accuracy, balanced accuracy (the mean of
per-class recalls: it does not flatter a model that ignores a rare class),
per-class precision, recall and F1, the confusion matrix (rows: true class,
columns: predicted) and ROC AUC. :func:`match_faces` and
:func:`detection_figures` score detections against annotated boxes: recall
per class and precision.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..boxes import iou as iou_of
from ..boxes import overlap as overlap_of
from ..labels import CLASSES

__all__ = ["MATCH_IOU", "TOLERANT_INSIDE", "TOLERANT_SIDES", "classification_metrics", "detection_figures",
           "match_boxes", "match_faces", "same_face"]


def classification_metrics(y_true, proba: np.ndarray, classes) -> dict:
    """Figures for true labels against predicted probabilities (columns = ``classes``).

    Faces whose true class the model does not have count as errors.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true)
    classes = list(classes)
    y_pred = np.asarray(classes)[proba.argmax(axis=1)] if len(proba) else np.array([])
    labels = [c for c in CLASSES if c in set(y_true) | set(classes)]
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [c for c in labels if (y_true == c).any()]
    aucs = {}
    for j, c in enumerate(classes):
        positive = y_true == c
        if positive.any() and not positive.all():
            aucs[c] = float(roc_auc_score(positive, proba[:, j]))
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        # The mean recall of the classes present (scikit-learn's balanced accuracy, without its
        # warning when the model names a class the data lacks: normal for a 3-class model).
        "balanced_accuracy": float(np.mean([r[labels.index(c)] for c in present])) if present else 0.0,
        "macro_f1": float(np.mean([f[labels.index(c)] for c in present])),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, c in enumerate(labels)},
        "confusion": {"labels": labels,
                      "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
        "roc_auc": aucs,
    }


#: A detection finds an annotated face when their boxes overlap at this IoU or more.
MATCH_IOU = 0.4
#: The convention-tolerant match: one box at least this share inside the other ...
TOLERANT_INSIDE = 0.8
#: ... and each side within this factor of the other's.
TOLERANT_SIDES = 2.0


def same_face(found, box, iou: float = MATCH_IOU, tolerant: bool = False) -> float:
    """How well a detection ``found`` frames the annotated ``box``: their IoU where it is at least
    ``iou``, else 0. ``tolerant`` also accepts boxes framed by another convention (eyes to mask
    against brow to chin): one box at least :data:`TOLERANT_INSIDE` inside the other and each
    side within :data:`TOLERANT_SIDES` of the other's; such a match scores the IoU found, or
    ``iou`` where that is lower."""
    overlap = iou_of(found, box)
    if overlap >= iou:
        return overlap
    if tolerant:
        inter, a, b = overlap_of(found, box)
        sides = [(found[2] - found[0], box[2] - box[0]), (found[3] - found[1], box[3] - box[1])]
        if (min(a, b) > 0 and inter >= TOLERANT_INSIDE * min(a, b)
                and all(max(p, q) <= TOLERANT_SIDES * min(p, q) for p, q in sides)):
            return max(overlap, iou)
    return 0.0


def claims(found, truth, iou: float = MATCH_IOU, tolerant: bool = False) -> list:
    """For each annotated face of ``truth`` (``(label, x1, y1, x2, y2)``), the detection of
    ``found`` that takes it, or None: detections, best score first, take the unclaimed face they
    frame best (:func:`same_face`)."""
    taken = [None] * len(truth)
    for face in sorted(found, key=lambda f: -f.score):
        best, j = 0.0, -1
        for k, (_, *box) in enumerate(truth):
            overlap = same_face(face.box, box, iou, tolerant) if taken[k] is None else 0.0
            if overlap > 0 and overlap >= best:
                best, j = overlap, k
        if j >= 0:
            taken[j] = face
    return taken


def match_boxes(found, truth, min_side: int = 24, iou: float = MATCH_IOU, tolerant: bool = False):
    """Match one photo's detections to its annotated faces: ``(found, counted, false)``, where
    ``found[k]`` says whether face ``k`` of ``truth`` was found, ``counted[k]`` whether its shorter
    side is at least ``min_side`` (a detection on a smaller one is neither right nor wrong), and
    ``false`` counts the detections that found no face (:func:`claims` matches them)."""
    counted = [min(x2 - x1, y2 - y1) >= min_side for _, x1, y1, x2, y2 in truth]
    used = [face is not None for face in claims(found, truth, iou, tolerant)]
    return used, counted, len(found) - sum(used)


def match_faces(found, truth, min_side: int = 24, iou: float = MATCH_IOU, tolerant: bool = False):
    """Score one photo's detections: ``(faces counted per class, found per class, false detections)``.

    ``truth`` holds ``(label, x1, y1, x2, y2)``; a face counts when its shorter
    side is at least ``min_side``, and a detection on a smaller one is neither
    right nor wrong. Detections, best score first, take the unclaimed face
    they overlap most at IoU >= ``iou`` (or, ``tolerant``, frame in another
    convention: :func:`same_face`); the rest are false.
    """
    used, counted, false = match_boxes(found, truth, min_side, iou, tolerant)
    n, hit = Counter(), Counter()
    for (label, *_), c, u in zip(truth, counted, used):
        n[label] += c
        if c and u:
            hit[label] += 1
    return n, hit, false


def detection_figures(per_photo, min_side: int) -> dict:
    """Recall per class and precision over ``[(kept faces, truth)]``."""
    n, hit, false = Counter(), Counter(), 0
    for faces, truth in per_photo:
        a, b, c = match_faces(faces, truth, min_side)
        n, hit, false = n + a, hit + b, false + c
    found = sum(hit.values())
    out = {f"recall_{c}": round(hit[c] / n[c], 4) for c in CLASSES if n[c]}
    out["precision"] = round(found / max(1, found + false), 4)
    out["faces"] = dict(n)
    return out
