"""What the face verifiers learn from and are judged by, and the linear verifier's training.

The detector's proposers run at a low threshold over the scene photos of the
templates' split (:func:`proposal_rows`). Proposals overlapping an annotated
face are faces, those far from every face background (:func:`labelled`). A
verifier's threshold is the one that finds most faces at the precision asked
for (:func:`best_threshold`), and the test photos give its figures
(:func:`test_figures`). :func:`train_verifier` fits the linear verifier
(:class:`maskhog.detect.verify.FaceVerifier`: a linear SVM on the crop's
features and the template's score); the CNN one (:mod:`.cnn_verifier`)
learns from the same rows.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np

from ..boxes import Face, merge_duplicates, pairwise_iou, pairwise_overlap, same_face
from ..crops import CropSpec
from ..detect import MaskHog
from ..detect.verify import FaceVerifier, describe_proposals
from ..io import ImageError, read_image
from ..labels import CLASSES
from .linear import COLOR_FEATURES
from .metrics import MATCH_IOU, detection_figures, match_faces
from .scenes import split_scenes

__all__ = ["VERIFIER", "best_threshold", "fit_linear_verifier", "kept_faces", "labelled", "proposal_rows",
           "tallies", "templates_alone", "test_figures", "train_verifier"]

log = logging.getLogger("maskhog")

#: The face verifier: the template score from which proposals are looked at, its SVM's C
#: (docs/design.md#color-cues), the precision its threshold must keep, and the scales the
#: photos are searched at for its training proposals (1.5: enlarged small faces, as
#: ``--min-face`` searches them; trained at 1.0 alone it found 0.37 of the held-out
#: unmasked faces, 0.48 with both).
VERIFIER = {"candidate_threshold": -0.9, "C": 0.001, "min_precision": 0.90, "min_side": 24,
            "scales": (1.0, 1.5)}



def proposal_rows(paths, photos, proposer, candidate_threshold, crop, features, scales=(1.0,), describe=None,
               keep=None) -> list:
    """Per photo and scale: the templates' proposals in the photo resized by that scale (as
    the pipeline enlarges images to reach small faces), what the verifier sees of them
    (``describe(image, faces)``, default: the linear verifier's features), boxes, best IoU
    with an annotated face, the annotated faces, and whether the face each overlaps most is
    unmasked. Boxes and faces are in the photo's own pixels. ``keep(k)``: only the photos
    (``paths[k]``) it is true for."""
    import cv2

    describe = describe or (lambda image, found: describe_proposals(image, found, crop, features))

    out = []
    for k, path in enumerate(paths):
        if keep is not None and not keep(k):
            continue
        try:
            photo = read_image(path)
        except ImageError as exc:
            log.warning("skipped %s", exc)
            continue
        truth = photos[path]
        for scale in scales:
            image = photo if scale == 1 else cv2.resize(photo, None, fx=scale, fy=scale,
                                                        interpolation=cv2.INTER_LINEAR)
            found = proposer.propose(image, candidate_threshold)
            X = describe(image, found) if found else None
            faces = [Face(tuple(v / scale for v in f.box), f.score) for f in found]
            overlaps = pairwise_iou([f.box for f in faces], [t[1:] for t in truth]).reshape(len(faces), len(truth))
            best = overlaps.argmax(axis=1) if overlaps.size else np.zeros(len(faces), int)
            iou = overlaps.max(axis=1) if overlaps.size else np.zeros(len(faces))
            bare = np.array([bool(truth) and truth[j][0] == "without_mask" for j in best], bool)
            out.append({"photo": k, "scale": scale, "faces": faces, "X": X, "iou": iou,
                        "truth": truth, "bare": bare})
    return out


def labelled(rows, face_iou: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the verifier sees of the proposals of ``rows`` that are clearly a face (IoU >=
    ``face_iou``: label 1) or background (IoU < 0.25: 0), their labels, and weights that sum
    to 1: half for background, a quarter each for masked and unmasked faces (the unmasked are
    few, and a missed one counts as much)."""
    rows = [r for r in rows if r["X"] is not None]
    X = np.concatenate([r["X"] for r in rows])
    iou = np.concatenate([r["iou"] for r in rows])
    bare = np.concatenate([r["bare"] for r in rows])
    label = np.where(iou >= face_iou, 1, np.where(iou < 0.25, 0, -1))
    X, y, bare = X[label >= 0], label[label >= 0], bare[label >= 0]
    weight = np.where(y == 0, 0.5 / max(1, (y == 0).sum()), 0.0)
    for group in (bare, ~bare):
        weight[(y == 1) & group] = 0.25 / max(1, ((y == 1) & group).sum())
    return X, y, weight


def best_threshold(rows, values, settings) -> tuple[float, float, dict] | None:
    """The verifier threshold (one of 401 quantiles of ``values``) that finds most faces
    (mean recall of masked and unmasked) at precision ``settings["min_precision"]`` or
    more: ``(mean recall, threshold, figures)``, or None if none reaches it.

    The figures are :func:`detection_figures` of :func:`kept_faces` at each threshold, counted by
    :func:`tallies`, which measures each photo's box overlaps once instead of 401 times.
    """
    thresholds = np.unique(np.quantile(np.concatenate(values), np.linspace(0, 1, 401)))
    n = Counter()
    hits, false = np.zeros((len(thresholds), len(CLASSES)), int), np.zeros(len(thresholds), int)
    for row, v in zip(rows, values):
        n = n + match_faces([], row["truth"], settings["min_side"])[0]
        h, f = tallies(row, v, thresholds, settings["min_side"])
        hits, false = hits + h, false + f
    best = None
    for t, hit, wrong in zip(thresholds, hits, false):
        found = int(hit.sum())
        m = {f"recall_{c}": round(int(k) / n[c], 4) for c, k in zip(CLASSES, hit) if n[c]}
        m["precision"] = round(found / max(1, found + int(wrong)), 4)
        m["faces"] = dict(n)
        score = (m.get("recall_with_mask", 0) + m.get("recall_without_mask", 0)) / 2
        if m["precision"] >= settings["min_precision"] and (best is None or score > best[0]):
            best = (score, round(float(t), 6), m)
    return best


def tallies(row, values, thresholds, min_side: int, iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """Faces found per class (columns in ``CLASSES`` order) and false detections in one photo,
    at each threshold: its proposals whose value is at least it, duplicates merged as
    :func:`maskhog.boxes.merge_duplicates` does, matched as :func:`match_faces` does."""
    faces, truth = row["faces"], row["truth"]
    hits, false = np.zeros((len(thresholds), len(CLASSES)), int), np.zeros(len(thresholds), int)
    if not faces:
        return hits, false
    values = np.asarray(values)
    boxes = [f.box for f in faces]
    same = same_face(*pairwise_overlap(boxes, boxes))
    overlap = pairwise_iou(boxes, [t[1:] for t in truth])
    counted = [min(x2 - x1, y2 - y1) >= min_side for _, x1, y1, x2, y2 in truth]
    column = [CLASSES.index(label) for label, *_ in truth]
    nms_order = sorted(range(len(faces)), key=lambda i: (faces[i].pose, -faces[i].score))
    done = {}
    for k, t in enumerate(thresholds):
        wanted = values >= t
        key = int(wanted.sum())   # the kept set shrinks as the threshold rises
        if key not in done:
            kept = []
            for i in nms_order:
                if wanted[i] and not same[i, kept].any():
                    kept.append(i)
            hit, wrong = np.zeros(len(CLASSES), int), 0
            free = np.ones(len(truth), bool)
            for i in sorted(kept, key=lambda i: -faces[i].score):
                o = np.where(free, overlap[i], 0.0)
                if not len(o) or o.max() < iou:
                    wrong += 1
                    continue
                j = np.flatnonzero(o == o.max())[-1]   # match_faces keeps the last of equals
                free[j] = False
                hit[column[j]] += counted[j]
            done[key] = hit, wrong
        hits[k], false[k] = done[key]
    return hits, false


def fit_linear_verifier(rows, C: float) -> tuple[np.ndarray, float]:
    """A linear SVM on the proposals of ``rows``: weights (standardisation folded in), intercept.

    Proposals labelled and weighed by :func:`labelled`.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y, weight = labelled(rows)
    scaler = StandardScaler().fit(X)
    svm = LinearSVC(C=C, dual=False, max_iter=5000)
    svm.fit(scaler.transform(X), y, sample_weight=weight * len(y))
    coef = svm.coef_[0] / scaler.scale_   # one dot product at run time
    return coef, float(svm.intercept_[0] - coef @ scaler.mean_)


def kept_faces(rows, values, t) -> list:
    """``[(proposals whose value is >= t, duplicates merged; annotated faces)]`` per photo."""
    return [(merge_duplicates([f for f, v in zip(r["faces"], v) if v >= t]), r["truth"])
            for r, v in zip(rows, values)]


def templates_alone(rows, threshold) -> list:
    """``[(the templates' faces at ``threshold``, annotated faces)]`` per photo."""
    return [(merge_duplicates([f for f in r["faces"] if f.score >= threshold]), r["truth"]) for r in rows]


def test_figures(rows, values, threshold, fallback, settings, scales, step, name="threshold") -> dict:
    """A verifier record's test figures: at scale 1 and each other scale, with the verifier
    (``values`` per row, kept from ``threshold``) and with the templates alone (from their own
    threshold ``fallback``); and at scale 1 at the thresholds ``step`` and ``2 step`` around
    it (the curve's entries name the threshold ``name``)."""
    def figures(scale, t=threshold, alone=False):
        at = [(r, v) for r, v in zip(rows, values) if r["scale"] == scale]
        kept = (templates_alone([r for r, _ in at], fallback) if alone
                else kept_faces([r for r, _ in at], [v for _, v in at], t))
        return detection_figures(kept, settings["min_side"])

    return {"test": figures(1.0),
            "test_templates_alone": {"threshold": fallback, **figures(1.0, alone=True)},
            "test_other_scales": {str(sc): {"verifier": figures(sc), "templates_alone": figures(sc, alone=True)}
                                  for sc in scales if sc != 1},
            "test_curve": [{name: round(float(t), 4), **{k: v for k, v in figures(1.0, t).items() if k != "faces"}}
                           for t in threshold + step * np.array([-2.0, -1.0, 0.0, 1.0, 2.0])]}


def train_verifier(scenes, *, templates=None, out, seed: int = 0, settings=VERIFIER,
                   log_fn=print) -> dict:
    """Fit the face verifier on what the templates propose in the training photos.

    The photos are split as for the templates (:func:`image_split`). The
    templates propose faces at ``settings["candidate_threshold"]`` in the
    training and validation photos, as they are and enlarged
    (``settings["scales"]``), and a linear SVM learns which are faces
    (:func:`fit_linear_verifier`). Its threshold is picked on out-of-fold scores
    (5 folds of those photos, by photo): the one that finds most faces (mean
    recall of masked and unmasked) at precision ``settings["min_precision"]``
    or more. The test photos give the figures, next to the templates alone
    at their own threshold.

    Returns the training record, also kept in the file's header.
    """
    start = time.time()
    crop, features = CropSpec(64, 0.0, False, color=True), COLOR_FEATURES
    boxed, (train, val, test) = split_scenes(scenes, seed)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    proposer = MaskHog(templates=templates, verifier=False)
    fallback = proposer.threshold
    scales = tuple(settings.get("scales", (1.0,)))
    log_fn(f"verifier: proposals in {len(train) + len(val)} training and {len(test)} test photos, "
           f"at scales {scales}")
    low = settings["candidate_threshold"]
    fit_rows = proposal_rows(train + val, photos, proposer, low, crop, features, scales)
    test_rows = proposal_rows(test, photos, proposer, low, crop, features, scales)

    def values(rows, coef, intercept):
        return [r["X"] @ coef + intercept if r["X"] is not None else np.zeros(0) for r in rows]

    folds = np.array([r["photo"] for r in fit_rows]) % 5   # a photo's scales in one fold
    oof = [None] * len(fit_rows)
    for k in range(5):
        coef, intercept = fit_linear_verifier([r for r, f in zip(fit_rows, folds) if f != k], settings["C"])
        for i in np.flatnonzero(folds == k):
            oof[i] = values([fit_rows[i]], coef, intercept)[0]
    alone_fit = detection_figures(templates_alone([r for r in fit_rows if r["scale"] == 1], fallback),
                                   settings["min_side"])
    best = best_threshold(fit_rows, oof, settings)
    if best is None:
        raise RuntimeError(f"no verifier threshold reaches precision {settings['min_precision']} "
                           "on the training photos")
    threshold = best[1]
    coef, intercept = fit_linear_verifier(fit_rows, settings["C"])
    log_fn(f"verifier: threshold {threshold} (out-of-fold: {best[2]})")
    test_values = values(test_rows, coef, intercept)

    record = {"settings": dict(settings), "seed": seed, "threshold": threshold,
              "photos": {"fit": len({r["photo"] for r in fit_rows}),
                         "test": len({r["photo"] for r in test_rows})},
              "out_of_fold": best[2], "templates_alone_on_fit_photos": alone_fit,
              **test_figures(test_rows, test_values, threshold, fallback, settings, scales, step=0.2),
              "seconds": round(time.time() - start, 1)}
    FaceVerifier(coef, intercept, threshold, settings["candidate_threshold"], crop=crop,
                 features=features, header={"record": record}).save(out)
    log_fn(f"verifier: {record}")
    return record
