"""What the model sees: every decision of the linear mask classifier, laid out on the face.

A linear model's score is a sum, ``decision = w . x + b``, and every feature of
``x`` describes one region of the crop: a HOG cell, an LBP cell, a skin cell, a
chroma cell (:mod:`maskhog.features`). Summing ``w_j * x_j`` over the features
of each region therefore splits the score exactly among the regions of the
face: the contributions plus the intercept *are* the decision value, not an
approximation of it. :func:`explain_linear` makes that split;
:func:`explain_image` runs the whole pipeline (:class:`maskhog.pipeline.MaskDetector`)
and explains each face it finds.

The feature standardisation of training is already folded into the shipped
weights (``w / sd``, ``b - w . mu / sd``: :mod:`maskhog.training.linear`), so
the weights act on the raw features and the identity holds with nothing else.
A mirrored model (``features["mirror"]``) scores the mean of the crop's vector
and its mirror image's; half of each weight acts on the crop, half on its
mirror, and the mirror half's contributions are folded back onto the cells
they came from.

The CNN second stage is no sum: for faces it decides, :func:`occlusion_map`
greys out patches of the crop and measures how the probability of the
verdict falls. That map is an approximation (patches interact; a grey patch
is itself a pattern), and is labelled as one.

Examples
--------
>>> from maskhog.io.demo import astronaut
>>> from maskhog.explain import explain_image
>>> face = explain_image(astronaut())[0]
>>> bool(abs(face.linear.total - face.linear.decision).max() < 1e-4)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import tuning
from .crops import crop_faces
from .features import SKIN_CB, SKIN_CR, LBP_CODES, as_pair, face_features, gray_crops, lbp_codes

__all__ = ["CellLayout", "DetectorNote", "FaceExplanation", "LinearExplanation", "Occlusion",
           "explain_face", "explain_image", "explain_linear", "feature_layout", "hog_glyphs",
           "occlusion_map", "skin_mask"]


# ------------------------------------------------------------ feature layout --

@dataclass(frozen=True)
class CellLayout:
    """Where one group of features lies on the crop.

    Attributes
    ----------
    name : str
        ``"hog"``, ``"lbp"``, ``"skin"``, ``"cr"`` or ``"cb"``.
    start, stop : int
        The group's slice of the feature vector.
    cell : (D,) int ndarray
        For each feature of the group, the flat index of its cell (row-major).
    rows, cols : (R + 1,), (C + 1,) int ndarray
        Pixel edges of the cells; pixels past the last edge belong to no cell.
    """

    name: str
    start: int
    stop: int
    cell: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    @property
    def grid(self) -> tuple[int, int]:
        return len(self.rows) - 1, len(self.cols) - 1

    def fold(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values`` ``(K, D_total)`` over the features of each cell: ``(K, R, C)``."""
        values = np.asarray(values, np.float64)[:, self.start:self.stop]
        n = self.grid[0] * self.grid[1]
        out = np.stack([np.bincount(self.cell, weights=v, minlength=n) for v in values])
        return out.reshape(len(values), *self.grid)

    def spread(self, cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Cell sums ``(K, R, C)`` spread evenly over their pixels: ``(K, H, W)`` whose sum is theirs."""
        heights, widths = np.diff(self.rows), np.diff(self.cols)
        density = cells / np.outer(heights, widths)
        out = np.zeros((len(cells), *shape))
        out[:, :self.rows[-1], :self.cols[-1]] = np.repeat(np.repeat(density, heights, axis=1), widths, axis=2)
        return out


def _edges(n_cells: int, step: int) -> np.ndarray:
    return np.arange(n_cells + 1) * step


@lru_cache(maxsize=16)
def _layout(shape: tuple[int, int], orientations, pixels_per_cell, cells_per_block, lbp_grid,
            skin_cell, chroma_grid) -> tuple[CellLayout, ...]:
    h, w = shape
    ch, cw = pixels_per_cell
    br, bc = cells_per_block
    n_r, n_c = h // ch, w // cw
    # HOG: blocks row-major, then the block's cells, then orientations (as scikit-image).
    blocks_r, blocks_c = n_r - br + 1, n_c - bc + 1
    r, c, i, j, _ = np.meshgrid(np.arange(blocks_r), np.arange(blocks_c), np.arange(br), np.arange(bc),
                                np.arange(orientations), indexing="ij")
    hog_cell = ((r + i) * n_c + (c + j)).ravel()
    groups = [CellLayout("hog", 0, hog_cell.size, hog_cell, _edges(n_r, ch), _edges(n_c, cw))]
    # LBP: cell k of a grid of g covers the pixels p with p * g // h == k (maskhog.features).
    gr, gc = lbp_grid
    rows = np.searchsorted(np.arange(h) * gr // h, np.arange(gr + 1))
    cols = np.searchsorted(np.arange(w) * gc // w, np.arange(gc + 1))
    start = hog_cell.size
    lbp_cell = np.repeat(np.arange(gr * gc), LBP_CODES)
    groups.append(CellLayout("lbp", start, start + lbp_cell.size, lbp_cell, rows, cols))
    if skin_cell:
        start = groups[-1].stop
        s_r, s_c = h // skin_cell, w // skin_cell
        groups.append(CellLayout("skin", start, start + s_r * s_c, np.arange(s_r * s_c),
                                 _edges(s_r, skin_cell), _edges(s_c, skin_cell)))
        g = chroma_grid
        for name in ("cr", "cb"):
            start = groups[-1].stop
            groups.append(CellLayout(name, start, start + g * g, np.arange(g * g),
                                     _edges(g, h // g), _edges(g, w // g)))
    return tuple(groups)


def feature_layout(features: dict, shape: tuple[int, int]) -> tuple[CellLayout, ...]:
    """The cells of every feature group of :func:`maskhog.features.face_features` with
    ``features`` (a model's settings) for crops of ``shape``, in feature-vector order."""
    color = features.get("color")
    return _layout(tuple(shape), int(features.get("orientations", 9)),
                   as_pair(features.get("pixels_per_cell", (8, 8)), "pixels_per_cell"),
                   as_pair(features.get("cells_per_block", (2, 2)), "cells_per_block"),
                   as_pair(features.get("lbp_grid", (4, 4)), "lbp_grid"),
                   int(color.get("skin_cell", 8)) if color is not None else 0,
                   int(color.get("chroma_grid", 4)) if color is not None else 0)


# --------------------------------------------------------- what the model sees --

def hog_glyphs(gray: np.ndarray, features: dict | None = None) -> np.ndarray:
    """The HOG glyph image of a gray crop: in each cell, a line per orientation bin, as bright as
    the gradient strength in that bin (scikit-image's ``hog(..., visualize=True)``), ``(H, W)`` float."""
    from skimage.feature import hog

    features = features or {}
    _, image = hog(gray, orientations=int(features.get("orientations", 9)),
                   pixels_per_cell=as_pair(features.get("pixels_per_cell", (8, 8)), "pixels_per_cell"),
                   cells_per_block=as_pair(features.get("cells_per_block", (2, 2)), "cells_per_block"),
                   block_norm=features.get("block_norm", "L2-Hys"), visualize=True)
    return image


def skin_mask(bgr: np.ndarray) -> np.ndarray:
    """Which pixels of a BGR crop the colour cues count as skin: ``(H, W)`` bool
    (Cr in :data:`maskhog.features.SKIN_CR`, Cb in :data:`maskhog.features.SKIN_CB`)."""
    import cv2

    ycrcb = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return (SKIN_CR[0] <= cr) & (cr <= SKIN_CR[1]) & (SKIN_CB[0] <= cb) & (cb <= SKIN_CB[1])


# ------------------------------------------------------------- linear model --

@dataclass
class LinearExplanation:
    """The linear classifier's score of one crop, split over the cells of the face.

    Attributes
    ----------
    classes : tuple of str
        The model's classes. ``rows`` names what each score row is for: one row per
        class, or for two classes one row scoring ``classes[1]`` against ``classes[0]``.
    rows : tuple of str
    crop : ndarray
        The crop as the model saw it: ``(S, S, 3)`` BGR or ``(S, S)`` gray.
    gray : (S, S) uint8 ndarray
        Its gray version: what HOG and LBP describe.
    features : (D,) float32 ndarray
        The feature vector the model scored.
    decision : (K,) ndarray
        The model's own decision values, ``model.decision_function``.
    intercept : (K,) ndarray
    contributions : dict of str to (K, R, C) ndarray
        Per feature group (:class:`CellLayout`), ``w_j * x_j`` summed over each cell.
    weights : dict of str to (K, R, C) ndarray
        The weights summed over each cell (for a mirrored model, the mean of the cell's
        and its mirror cell's: the weights as they act on the face).
    hog_weights : (K, n_r, n_c, orientations) ndarray
        The HOG weights per cell and orientation bin, summed over the blocks that hold the cell.
    pixels : (K, S, S) ndarray
        All contributions spread evenly over the pixels of their cells: a heat map over
        the face whose sum is the sum of the contributions.
    cells : (K, n_r, n_c) ndarray
        ``pixels`` summed over the HOG cells (pixels beyond the last whole cell join it).
    probabilities : (len(classes),) ndarray
        Calibrated probabilities, as :meth:`MaskClassifier.predict_proba` gives them.
    model : str
        ``"colour"``, ``"gray"`` (a model without colour cues) or ``"gray fallback"``
        (a colour model's gray weights, which decide for crops without colour).
    """

    classes: tuple
    rows: tuple
    crop: np.ndarray
    gray: np.ndarray
    features: np.ndarray
    decision: np.ndarray
    intercept: np.ndarray
    contributions: dict
    weights: dict
    hog_weights: np.ndarray
    pixels: np.ndarray
    cells: np.ndarray
    probabilities: np.ndarray
    model: str

    @property
    def total(self) -> np.ndarray:
        """Every contribution plus the intercept, per row: equal to :attr:`decision`."""
        return sum(c.sum(axis=(1, 2)) for c in self.contributions.values()) + self.intercept

    def to_dict(self) -> dict:
        """A JSON-ready summary: scores, the identity, and every cell map as nested lists."""
        def lists(maps):
            return {name: {row: m[k].tolist() for k, row in enumerate(self.rows)} for name, m in maps.items()}

        return {"model": self.model, "classes": list(self.classes), "rows": list(self.rows),
                "decision": self.decision.tolist(), "intercept": self.intercept.tolist(),
                "contributions_plus_intercept": self.total.tolist(),
                "probabilities": dict(zip(self.classes, self.probabilities.tolist())),
                "group_totals": {name: dict(zip(self.rows, c.sum(axis=(1, 2)).tolist()))
                                 for name, c in self.contributions.items()},
                "cells": {row: self.cells[k].tolist() for k, row in enumerate(self.rows)},
                "contributions": lists(self.contributions), "weights": lists(self.weights)}


def _score_rows(classes) -> tuple:
    return (f"{classes[1]} vs {classes[0]}",) if len(classes) == 2 else tuple(classes)


def explain_linear(model, crop) -> LinearExplanation:
    """Split a :class:`~maskhog.classify.MaskClassifier`'s score of one crop over its cells.

    Parameters
    ----------
    model : MaskClassifier
    crop : ndarray
        One crop made with ``model.crop`` (:func:`maskhog.crops.crop_faces`):
        ``(S, S, 3)`` BGR uint8 for a colour model, else ``(S, S)`` uint8.

    Returns
    -------
    LinearExplanation
        Its :attr:`~LinearExplanation.total` equals its decision values to float
        tolerance (the model sums in float32).

    Raises
    ------
    ValueError
        A crop of another shape than the model's crop rule makes.
    """
    crop = np.asarray(crop)
    size = model.crop.size
    want = (size, size, 3) if model.crop.color else (size, size)
    if crop.shape != want or crop.dtype != np.uint8:
        raise ValueError(f"this model explains uint8 crops of shape {want}, got {crop.dtype} {crop.shape}")
    x = model.describe(crop[np.newaxis])
    proba = model.predict_proba(x)[0]
    kind = "colour" if "color" in model.features else "gray"
    if model.gray is not None and model.achromatic(x)[0]:
        # The gray weights decide for a crop without colour: explain those.
        model, kind = model.gray, "gray fallback"
        x = x[:, :model.n_features]
    features = model.features
    mirror = bool(features.get("mirror"))
    plain = {k: v for k, v in features.items() if k != "mirror"}
    colored = crop.ndim == 3
    layout = feature_layout(features, (size, size))
    coef = model.coef.astype(np.float64)
    # The split is of the very vector the model scored, x. A mirrored model's x is the mean of
    # the crop's vector a and its mirror image's b: w.x = w.a / 2 + w.b / 2, with b taken as
    # 2x - a so that the halves add up to x itself, not to a float32 rounding away from it.
    x64 = x[0].astype(np.float64)
    if mirror:
        a = face_features(crop[np.newaxis], **plain)[0].astype(np.float64)
        halves = [(a / 2, False), ((2 * x64 - a) / 2, True)]
    else:
        halves = [(x64, False)]
    contributions = {g.name: 0.0 for g in layout}
    pixels = np.zeros((len(coef), size, size))
    for part, flipped in halves:
        terms = coef * part
        for g in layout:
            cells = g.fold(terms)
            spread = g.spread(cells, (size, size))
            if flipped:   # the mirror image's cells, back onto the cells of the crop as it is
                cells, spread = cells[:, :, ::-1], spread[:, :, ::-1]
            contributions[g.name] = contributions[g.name] + cells
            pixels += spread
    weights = {}
    for g in layout:
        w = g.fold(coef)
        weights[g.name] = (w + w[:, :, ::-1]) / 2 if mirror else w
    hog = layout[0]
    n_r, n_c = hog.grid
    orientations = int(features.get("orientations", 9))
    # HOG features run orientation fastest: feature j is bin j % orientations of its cell.
    slot = hog.cell * orientations + np.arange(hog.stop) % orientations
    hog_w = np.stack([np.bincount(slot, weights=row[:hog.stop], minlength=n_r * n_c * orientations)
                      for row in coef])
    hog_w = hog_w.reshape(len(coef), n_r, n_c, orientations)
    if mirror:   # a mirror image turns a gradient at t degrees to 180 - t: bin o to bin n-1-o
        hog_w = (hog_w + hog_w[:, :, ::-1, ::-1]) / 2
    row_cell = np.minimum(np.arange(size) // hog.rows[1], n_r - 1)
    col_cell = np.minimum(np.arange(size) // hog.cols[1], n_c - 1)
    cells = np.zeros((len(coef), n_r * n_c))
    flat = (row_cell[:, None] * n_c + col_cell[None, :]).ravel()
    for k in range(len(coef)):
        cells[k] = np.bincount(flat, weights=pixels[k].ravel(), minlength=n_r * n_c)
    return LinearExplanation(
        classes=model.classes, rows=_score_rows(model.classes), crop=crop,
        gray=gray_crops(crop) if colored else crop, features=x[0],
        decision=model.decision_function(x)[0].astype(np.float64), intercept=model.intercept.copy(),
        contributions=contributions, weights=weights, hog_weights=hog_w, pixels=pixels,
        cells=cells.reshape(len(coef), n_r, n_c), probabilities=proba, model=kind)


# ------------------------------------------------------------------ the CNN --

@dataclass
class Occlusion:
    """How much the CNN's probability of ``label`` falls when each part of the crop is greyed out.

    An approximation, not a decomposition: it shows where the network looks, not how its
    score is made. ``drop`` is ``(S, S)``: at each pixel, the mean fall over the patches that
    cover it (negative where hiding the pixel makes the verdict surer).
    """

    crop: np.ndarray
    label: str
    probability: float
    drop: np.ndarray
    patch: int
    stride: int
    approximation: bool = True

    def to_dict(self) -> dict:
        return {"approximation": True, "method": "occlusion: mean fall of the verdict's probability "
                "when a grey patch covers the pixel", "label": self.label,
                "probability": self.probability, "patch": self.patch, "stride": self.stride,
                "cells": _pool(self.drop, self.stride).tolist()}


def _pool(image: np.ndarray, step: int) -> np.ndarray:
    h, w = (s // step * step for s in image.shape[:2])
    return image[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))


def occlusion_map(cnn, crop, label: str | None = None, *, patch: int = 16, stride: int = 8) -> Occlusion:
    """Grey out each ``patch`` x ``patch`` square of ``crop`` (every ``stride`` pixels) and measure
    the fall of the CNN's probability of ``label`` (default: its verdict).

    Parameters
    ----------
    cnn : CnnClassifier
    crop : ndarray
        One crop made with ``cnn.crop``.
    label : str, optional
    patch, stride : int
        Square side and step, in crop pixels.
    """
    crop = np.asarray(crop)
    size = cnn.crop.size
    if crop.shape[:2] != (size, size):
        raise ValueError(f"the CNN takes crops of {size}x{size}, got {crop.shape}")
    if patch < 1 or stride < 1 or patch > size:
        raise ValueError(f"an occlusion patch of {patch} px every {stride} px does not fit a {size}-px crop")
    base = cnn.classify_crops(crop[np.newaxis])[0]
    k = int(base.argmax()) if label is None else cnn.classes.index(label)
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    spots = [(y, x) for y in starts for x in starts]
    hidden = np.repeat(crop[np.newaxis], len(spots), axis=0)
    for n, (y, x) in enumerate(spots):
        hidden[n, y:y + patch, x:x + patch] = 128
    fall = base[k] - cnn.classify_crops(hidden)[:, k]
    total, count = np.zeros((size, size)), np.zeros((size, size))
    for (y, x), f in zip(spots, fall):
        total[y:y + patch, x:x + patch] += f
        count[y:y + patch, x:x + patch] += 1
    return Occlusion(crop, cnn.classes[k], float(base[k]), total / count, patch, stride)


# ------------------------------------------------------------------ a face --

@dataclass
class DetectorNote:
    """What the detector says of a face, as far as the pipeline keeps it.

    ``proposer`` is found again: a box that one of YuNet's boxes on the image as given
    becomes, once moved onto the box convention, is YuNet's (``score``: its log-odds);
    otherwise it is inferred from the face's score: the proposal network's boxes carry
    :data:`maskhog.tuning.NETWORK_SCORE`, the templates' their own score. ``verifier_score``
    is the score the box is kept by, by its proposer's rule (for YuNet's, ``face_yunet.json``'s),
    recomputed on the image as given (the search may have judged it on a resized or framed
    copy), against ``verifier_threshold``.
    """

    detector: str
    proposer: str
    score: float
    verifier: str | None = None
    verifier_score: float | None = None
    verifier_threshold: float | None = None

    def to_dict(self) -> dict:
        return {"detector": self.detector, "proposer": self.proposer, "score": self.score,
                "verifier": self.verifier, "verifier_score": self.verifier_score,
                "verifier_threshold": self.verifier_threshold,
                "verifier_note": None if self.verifier is None else "recomputed on the box in the image as given"}


@dataclass
class FaceExplanation:
    """One face: the pipeline's verdict, and why."""

    box: tuple
    label: str
    score: float
    probabilities: dict
    stage: str
    detector: DetectorNote
    linear: LinearExplanation | None = None
    occlusion: Occlusion | None = None
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": self.score,
                "probabilities": self.probabilities, "stage": self.stage,
                "detector": self.detector.to_dict(),
                "linear": None if self.linear is None else self.linear.to_dict(),
                "occlusion": None if self.occlusion is None else self.occlusion.to_dict(),
                "notes": list(self.notes)}


def _yunet_proposals(detector, image: np.ndarray) -> list | None:
    """YuNet's proposals on ``image`` where ``detector`` proposes with YuNet there, else ``None``."""
    if getattr(detector, "yunet", None) is None or np.ndim(image) != 3:
        return None
    return detector.yunet_faces(image)


def _detector_note(detector, image: np.ndarray, box, score: float, yunet_proposals=None) -> DetectorNote:
    from .boxes import Face
    from .detect.verify import CnnFaceVerifier, FaceVerifier

    name = getattr(detector, "name", type(detector).__name__)
    if name != "maskhog":
        return DetectorNote(name, name, float(score))
    if yunet_proposals is not None:
        note = _yunet_note(detector, image, box, yunet_proposals)
        if note is not None:
            return note
    network = getattr(detector, "proposals", None) is not None and score == tuning.NETWORK_SCORE
    note = DetectorNote(name, "proposal network" if network else "fHOG templates", float(score))
    verifier = getattr(detector, "verifier", None)
    if verifier is None or np.ndim(image) != 3:
        return note
    if isinstance(verifier, CnnFaceVerifier):
        crops = crop_faces(image, [box], verifier.crop)
        note.verifier, note.verifier_threshold = "cnn", verifier.score_threshold
        note.verifier_score = float(verifier.face_scores(crops, [score])[0])
    elif isinstance(verifier, FaceVerifier):
        note.verifier, note.verifier_threshold = "linear", verifier.threshold
        note.verifier_score = float(verifier.decision_function(verifier.describe(image, [Face(box, score)]))[0])
    return note


#: A box is YuNet's when one of YuNet's boxes, moved onto the convention, overlaps it this much.
_SAME_BOX_IOU = 0.9


def _yunet_note(detector, image: np.ndarray, box, proposals) -> DetectorNote | None:
    """The note for ``box`` if it is one of YuNet's ``proposals`` (judged as YuNet framed
    it), else ``None``."""
    from .boxes import iou

    for proposed in proposals:
        moved = detector.in_convention([proposed], "yunet")[0]
        if iou(moved.box, box) >= _SAME_BOX_IOU:
            judge = detector.yunet_verifier
            crops = crop_faces(image, [proposed.box], judge.crop)
            kept_by = judge.face_scores(crops, [proposed.score], detector.yunet_threshold, detector.yunet_weight)
            return DetectorNote("maskhog", "YuNet", proposed.score, "cnn", float(kept_by[0]),
                                detector.yunet_threshold)
    return None


def _stages(model):
    """The linear model and the CNN of a classifier (either may be ``None``)."""
    from .classify import Cascade, CnnClassifier, MaskClassifier

    if isinstance(model, Cascade):
        return model.svm, model.cnn
    if isinstance(model, MaskClassifier):
        return model, None
    if isinstance(model, CnnClassifier):
        return None, model
    raise TypeError(f"cannot explain a {type(model).__name__}")


def explain_face(finder, image: np.ndarray, result) -> FaceExplanation:
    """Explain one :class:`~maskhog.pipeline.FaceResult` of ``finder`` on the BGR ``image``.

    The linear model's split is given for every face it scores (in a cascade, also for
    faces the CNN then decided: its scores are why they went to the CNN); the occlusion
    map for faces the CNN decided.
    """
    return _explain_face(finder, image, result, _yunet_proposals(finder.detector, image))


def _explain_face(finder, image: np.ndarray, result, yunet_proposals) -> FaceExplanation:
    """:func:`explain_face`, given YuNet's proposals on ``image`` (found once per image)."""
    svm, cnn = _stages(finder.model)
    stage = str(result.stage)
    face = FaceExplanation(tuple(int(v) for v in result.box), result.label, float(result.score),
                           {k: float(v) for k, v in result.probabilities.items()}, stage,
                           _detector_note(finder.detector, image, result.box, result.detector_score,
                                          yunet_proposals))
    if svm is not None:
        face.linear = explain_linear(svm, crop_faces(image, [result.box], svm.crop)[0])
        if stage == "cnn":
            face.notes.append(f"the SVM was unsure (confidence {face.linear.probabilities.max():.3f} under "
                              f"the cascade threshold {finder.model.threshold:.3f}): the CNN decided")
    if cnn is not None and stage == "cnn":
        face.occlusion = occlusion_map(cnn, crop_faces(image, [result.box], cnn.crop)[0], result.label)
        face.notes.append("the CNN's map is an occlusion map: an approximation, not an exact split")
    return face


def explain_image(image: np.ndarray, finder=None) -> list[FaceExplanation]:
    """Find the faces of a BGR uint8 ``image`` as ``finder`` (a
    :class:`~maskhog.pipeline.MaskDetector`; default: the shipped SVM alone) does, and
    explain each verdict (:func:`explain_face`)."""
    from .io import to_bgr
    from .pipeline import MaskDetector

    finder = finder if finder is not None else MaskDetector()
    image = to_bgr(image)
    faces = finder.find_faces(image)
    results = finder.classify(image, [f.box for f in faces], [f.score for f in faces])
    proposals = _yunet_proposals(finder.detector, image)
    return [_explain_face(finder, image, r, proposals) for r in results]
