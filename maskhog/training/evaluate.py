"""``maskhog evaluate``: run a mask classifier over labelled data folders and measure it."""

from __future__ import annotations

import time

from ..progress import stage
from .data import load_datasets
from .faces import face_crops
from .metrics import classification_metrics

__all__ = ["evaluate"]


def evaluate(model, roots, *, detector=None, min_face: int = 0, progress_factory=None) -> dict:
    """Classify every labelled face of ``roots`` and measure.

    Faces are cropped with the model's own crop rules. ``min_face`` drops
    annotated faces whose shorter side is smaller (in pixels).

    Returns
    -------
    dict with ``metrics`` and, for the report, ``crops``, ``labels``, ``proba``
    and ``sources``.
    """
    with stage("reading the folders"):
        data = load_datasets(roots)
    if min_face:
        data.samples = [s for s in data.samples
                        if s.box is None or min(s.box[2] - s.box[0], s.box[3] - s.box[1]) >= min_face]
    start = time.time()
    n_images = len({s.path for s in data.samples})
    first, *more = model.crop_specs   # the cascade crops each face twice: gray and colour
    if progress_factory:
        with progress_factory(n_images, "evaluating") as bar:
            faces = face_crops(data, first, detector=detector, progress=bar.update, also=more)
    else:
        faces = face_crops(data, first, detector=detector, also=more)
    with stage("classifying"):
        proba = model.classify_crops(faces.crops, *faces.also)
    metrics = classification_metrics(faces.labels, proba, model.classes)
    metrics["seconds"] = round(time.time() - start, 2)
    metrics["faces_by_origin"] = faces.summary()["by_origin"]
    metrics["skipped"] = faces.skipped
    return {"metrics": metrics, "crops": faces.crops, "labels": faces.labels, "proba": proba,
            "classes": list(model.classes), "sources": faces.sources}
