"""Labelled faces as crops: every face of a data set cut by the crop rule, plus varied copies.

Faces of class-folder images have no box: the largest face that
:func:`face_finder` finds, the way ``predict`` finds faces at run time, is
used when there is one, else the whole image (most such images are tight
crops), and which was used is counted. Annotated faces (scene photos) are cut
at their annotated box, or (``scene_boxes``) at the box the finder gives the
same face, so that training crops are framed as run-time crops are.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from ..crops import CropSpec, crop_faces
from ..io import DEFAULT_MAX_PIXELS, ImageError, read_image, to_gray
from .augment import Augment, augmented_crops
from .data import Dataset, Sample

__all__ = ["FaceCrops", "SCENE_BOXES", "face_crops", "face_finder", "finder_for", "found_boxes",
           "whole_or_detected"]

log = logging.getLogger("maskhog")

#: Where annotated faces are cut (:func:`face_crops`' ``scene_boxes``): at the annotated box;
#: at the finder's box of the same face, the annotated one where it finds none; or at the
#: finder's box only, leaving out the faces it does not find (run time never classifies those).
SCENE_BOXES = ("annotated", "found", "found-only")

#: A found box frames an annotated face when their IoU reaches this (the detector's own figures).
FOUND_IOU = 0.4


@dataclass
class FaceCrops:
    """Crops with their labels and split groups, and how their boxes were found."""

    crops: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    origin: np.ndarray              # per crop: 'box', 'found', 'detector', 'whole' or 'augmented'
    sources: list = field(default_factory=list)   # (path, box) of each non-augmented crop
    skipped: list = field(default_factory=list)
    also: tuple = ()   # the same faces cut by each of face_crops' ``also`` rules
    not_found: int = 0   # annotated faces left out because the finder did not find them

    def originals(self) -> "FaceCrops":
        """The faces as found, without their augmented copies."""
        own = self.origin != "augmented"
        return FaceCrops(self.crops[own], self.labels[own], self.groups[own], self.origin[own], self.sources,
                         self.skipped, tuple(a[own] for a in self.also), self.not_found)

    def summary(self) -> dict:
        return {"crops": len(self.labels), "by_label": dict(Counter(self.labels.tolist())),
                "by_origin": dict(Counter(self.origin.tolist())), "skipped": len(self.skipped),
                "not_found": self.not_found}


def face_finder(detector: str = "maskhog"):
    """What finds the faces of class-folder images for training: the run-time pipeline's search.

    :meth:`maskhog.pipeline.MaskDetector.find_faces` with ``detector``: it
    searches close-ups again, shrunk and framed, and small photos enlarged, when
    the first search finds nothing, as ``predict`` does. maskhog's own detector
    finds about as many masked as unmasked faces in faces/ (0.93 and 0.95), so its boxes do not
    tell the label; dlib's stock one finds 18% and 48% and would.
    """
    from ..detect import make_detector
    from ..pipeline import MaskDetector

    return MaskDetector(make_detector(detector))


def finder_for(model):
    """The :func:`face_finder` a model's training cut class-folder faces with, or None (whole images).

    ``model`` is a :class:`MaskClassifier` or a cascade (its SVM's training counts).
    """
    name = getattr(model, "svm", model).info.get("training", {}).get("detector")
    return face_finder(name) if name else None


def whole_or_detected(image: np.ndarray, detector) -> tuple[tuple, str]:
    """The face box of a class-folder image: the detector's largest face, else the whole image.

    ``detector`` is a :func:`face_finder` (or anything with ``detect``), or
    None for always the whole image. "The whole image" is its largest
    centred square: such images are mostly tight crops with the face in the
    middle, and a square cut keeps the face's proportions without padding.
    """
    h, w = image.shape[:2]
    if detector is not None:
        faces = getattr(detector, "find_faces", detector.detect)(image)
        if faces:
            face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            return face.box, "detector"
    side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    return (x0, y0, x0 + side, y0 + side), "whole"


def found_boxes(annotated, found, min_iou: float = FOUND_IOU) -> list:
    """The found box of each annotated box, or None where no found box frames it.

    ``found`` holds :class:`maskhog.boxes.Face` records, matched to the annotated boxes
    as the detector's figures match them (:func:`maskhog.training.metrics.claims`): best
    score first, each takes the unclaimed box it overlaps most at IoU >= ``min_iou``.
    """
    from .metrics import claims

    taken = claims(found, [(None, *box) for box in annotated], min_iou)
    return [None if face is None else tuple(int(v) for v in face.box) for face in taken]


def face_crops(data: Dataset, spec: CropSpec, *, detector=None, augment: Augment | None = None,
               seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS, progress=None,
               n_jobs: int = 2, also=(), cluster=None, scene_boxes: str = "annotated") -> FaceCrops:
    """Crop every face of ``data`` (each image is read once), plus augmented copies.

    Images are shared out in fixed chunks over ``n_jobs`` processes, or over
    the workers of a Dask cluster (``cluster``: a scheduler's address or a
    client, see :mod:`maskhog.cluster`; the images' paths must name the same
    files there). Each chunk seeds its own generator, so the result does not
    depend on where it is cut. Unreadable images are reported (with their file name) and
    skipped. ``also`` names more crop rules: the same faces, and the same
    varied copies (one set of random draws), are cut by each from the same
    reading of the image (``FaceCrops.also``; the cascade needs gray and
    colour crops). ``scene_boxes`` (one of :data:`SCENE_BOXES`) says where annotated
    faces are cut; any but "annotated" needs ``detector``.
    """
    from joblib import Parallel, delayed

    if scene_boxes not in SCENE_BOXES:
        raise ValueError(f"scene_boxes {scene_boxes!r} is not one of {', '.join(SCENE_BOXES)}")
    if scene_boxes != "annotated" and detector is None:
        raise ValueError(f"scene_boxes={scene_boxes!r} needs a detector to find the faces")

    by_image: dict[str, list[Sample]] = {}
    for s in data.samples:
        by_image.setdefault(s.path, []).append(s)
    items = list(by_image.items())
    chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    copies = augment.copies_per_class(data.counts()) if augment is not None else {}
    shared = ((spec, *also), detector, augment, copies, max_pixels, scene_boxes)
    seeded = [(chunk, np.random.default_rng([seed, k])) for k, chunk in enumerate(chunks)]
    if cluster is not None:
        done = _crop_on_cluster(cluster, shared, seeded)
    else:
        done = Parallel(n_jobs=min(n_jobs, len(chunks)) or 1, return_as="generator")(
            delayed(_crop_seeded)(shared, part) for part in seeded)
    parts = []
    for chunk, part in zip(chunks, done):
        parts.append(part)
        if progress:
            progress(len(chunk))
    for part in parts:
        for message in part["skipped"]:
            log.warning("skipped %s", message)
    if not any(len(p["crops"][0]) for p in parts):
        raise ValueError("no usable faces: every image was skipped")
    def joined(key):
        return list(chain.from_iterable(p[key] for p in parts))

    return FaceCrops(np.concatenate([p["crops"][0] for p in parts if len(p["crops"][0])]),
                     np.array(joined("labels")), np.array(joined("groups")),
                     np.array(joined("origin")), joined("sources"),
                     list(data.skipped) + joined("skipped"),
                     tuple(np.concatenate([p["crops"][j] for p in parts if len(p["crops"][j])])
                           for j in range(1, 1 + len(also))),
                     sum(p["not_found"] for p in parts))


_CHUNK = 32   # images per parallel job


def _within(box, shape):
    """``box`` clipped to an image of ``shape``, or None if under 2 px remain: annotations
    declare an image size that may be false, so the decoded image is what counts."""
    h, w = shape[:2]
    x1, y1, x2, y2 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
    return (x1, y1, x2, y2) if x2 - x1 >= 2 and y2 - y1 >= 2 else None


def _crop_on_cluster(cluster, shared, seeded):
    """The chunks' crops from a cluster's workers, in order; each worker gets ``shared``
    (the detector above all) once."""
    from ..cluster import connected, ordered_map

    with connected(cluster) as client:
        yield from ordered_map(client, _crop_seeded, shared, seeded)


def _crop_seeded(shared, part) -> dict:
    (specs, detector, augment, copies, max_pixels, scene_boxes), (items, rng) = shared, part
    return _crop_chunk(items, specs, detector, augment, copies, rng, max_pixels, scene_boxes)


def _crop_chunk(items, specs, detector, augment, copies, rng, max_pixels, scene_boxes="annotated") -> dict:
    """The faces of a few images, in order: each face, then its augmented copies.

    ``out["crops"][j]`` holds the crops by rule ``specs[j]``.
    """
    cut = [[] for _ in specs]
    out = {"labels": [], "groups": [], "origin": [], "sources": [], "skipped": [], "not_found": 0}
    for path, samples in items:
        try:
            image = read_image(path, max_pixels=max_pixels)
        except ImageError as exc:
            out["skipped"].append(str(exc))
            continue
        gray = to_gray(image)
        found = [None] * len(samples)
        if scene_boxes != "annotated" and any(s.box is not None for s in samples):
            # One search of the photo frames all its annotated faces.
            boxed = [k for k, s in enumerate(samples) if s.box is not None]
            faces = getattr(detector, "find_faces", detector.detect)(image)
            for k, box in zip(boxed, found_boxes([samples[k].box for k in boxed], faces)):
                found[k] = box
        for s, found_box in zip(samples, found):
            if s.box is not None:
                box, how = _within(s.box, image.shape), "box"
                if box is None:
                    out["skipped"].append(f"{path}: box {s.box} lies outside the decoded "
                                          f"{image.shape[1]}x{image.shape[0]} image")
                    continue
                if found_box is not None:
                    box, how = found_box, "found"
                elif scene_boxes == "found-only":
                    out["not_found"] += 1
                    continue
            else:
                box, how = whole_or_detected(image, detector)
            n = copies.get(s.label, 0)
            state = rng.bit_generator.state
            for rule, crops in zip(specs, cut):
                source = image if rule.color else gray
                crops.append(crop_faces(source, [box], rule))
                if n:
                    # Each rule's copies replay the same draws: the same variations.
                    rng.bit_generator.state = state
                    crops.append(augmented_crops(source, box, rule, augment, rng, n))
            out["labels"] += [s.label] * (1 + n)
            out["groups"] += [s.group] * (1 + n)
            out["origin"] += [how] + ["augmented"] * n
            out["sources"].append((path, tuple(int(v) for v in box)))
    out["crops"] = [np.concatenate(crops) if crops else
                    np.zeros((0, rule.size, rule.size) + ((3,) if rule.color else ()), np.uint8)
                    for rule, crops in zip(specs, cut)]
    return out
