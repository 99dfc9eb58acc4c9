"""Training a mask classifier: labelled faces in, a calibrated linear model out.

The steps, each a function of its own:

1. :func:`face_crops` cuts every labelled face with the crop rule (and adds
   augmented copies for training faces);
2. :func:`maskhog.features.face_features` describes the crops: HOG and LBP
   of the gray crop, plus where skin shows and the mean chroma (colour crops);
3. :func:`fit_classifier` standardises the features, fits a linear SVM with
   balanced class weights for each C of a grid, keeps the C with the best
   balanced accuracy on the validation faces, and turns its scores into
   probabilities with Platt sigmoids fitted on those held-out faces; with
   colour cues, :func:`fit_with_fallback` fits a second set of weights on HOG
   + LBP alone for colourless faces;
4. :func:`train` ties it together on a group-aware train / validation / test
   split and reports the test figures, which the model file keeps.

Faces of class-folder images have no box: the largest face that
:func:`face_finder` finds, the way ``predict`` finds faces at run time, is
used when there is one, else the whole image (most such images are tight
crops), and which was used is counted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from itertools import chain
from dataclasses import dataclass, field, replace

import numpy as np

from .augment import Augment, augmented_crops
from .crops import CropSpec, crop_faces
from .data import Dataset, Sample, group_split, load_datasets
from .features import face_features
from .io import DEFAULT_MAX_PIXELS, ImageError, read_image, to_gray
from .labels import CLASSES
from .model import MaskClassifier

__all__ = ["FaceCrops", "face_crops", "face_finder", "finder_for", "fit_classifier",
           "fit_with_fallback", "train", "C_GRID", "COLOR_FEATURES", "MASK_FEATURES"]

log = logging.getLogger("maskhog")

#: SVM regularisation strengths tried on the validation faces. Judged by validation log-loss,
#: the shipped recipe's crops favour the small end (docs/studies/c-choice/REPORT.md): 0.0003
#: is there so that the best is not the grid's edge; 0.1, never the best, is not tried.
C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03)

#: Feature settings of colour models (:func:`maskhog.features.face_features`): HOG and
#: LBP of the gray crop plus colour cues. Trained on faces/ and tested on scenes/, the
#: colour cues lift accuracy from 0.73 to 0.91 (train/measure.py).
COLOR_FEATURES = {"color": {"skin_cell": 8, "chroma_grid": 4}}

#: Feature settings of the mask classifiers :func:`train` makes: each face is described by
#: the mean of its crop's vector and its mirror image's (``mirror``), with colour cues for
#: colour crops. On faces/ the mirror lifts 5-fold group CV from 0.968 to 0.973 (train/README.md).
MASK_FEATURES = {"mirror": True, **COLOR_FEATURES}


@dataclass
class FaceCrops:
    """Crops with their labels and split groups, and how their boxes were found."""

    crops: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    origin: np.ndarray              # per crop: 'box', 'detector', 'whole' or 'augmented'
    sources: list = field(default_factory=list)   # (path, box) of each non-augmented crop
    skipped: list = field(default_factory=list)
    also: tuple = ()   # the same faces cut by each of face_crops' ``also`` rules

    def originals(self) -> "FaceCrops":
        """The faces as found, without their augmented copies."""
        own = self.origin != "augmented"
        return FaceCrops(self.crops[own], self.labels[own], self.groups[own], self.origin[own], self.sources,
                         self.skipped, tuple(a[own] for a in self.also))

    def summary(self) -> dict:
        return {"crops": len(self.labels), "by_label": dict(Counter(self.labels.tolist())),
                "by_origin": dict(Counter(self.origin.tolist())), "skipped": len(self.skipped)}


def face_finder(detector: str = "maskhog"):
    """What finds the faces of class-folder images for training: the run-time pipeline's search.

    :meth:`maskhog.pipeline.MaskDetector.find_faces` with ``detector``: it
    searches close-ups again, shrunk and framed, and small photos enlarged, when
    the first search finds nothing, as ``predict`` does. maskhog's own detector
    finds about as many masked as unmasked faces in faces/ (0.93 and 0.95), so its boxes do not
    tell the label; dlib's stock one finds 18% and 48% and would.
    """
    from .detect import make_detector
    from .pipeline import MaskDetector

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


def face_crops(data: Dataset, spec: CropSpec, *, detector=None, augment: Augment | None = None,
               seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS, progress=None,
               n_jobs: int = 2, also=()) -> FaceCrops:
    """Crop every face of ``data`` (each image is read once), plus augmented copies.

    Images are shared out in fixed chunks over ``n_jobs`` processes; each
    chunk seeds its own generator, so the result does not depend on
    ``n_jobs``. Unreadable images are reported (with their file name) and
    skipped. ``also`` names more crop rules: the same faces, and the same
    varied copies (one set of random draws), are cut by each from the same
    reading of the image (``FaceCrops.also``; the cascade needs gray and
    colour crops).
    """
    from joblib import Parallel, delayed

    by_image: dict[str, list[Sample]] = {}
    for s in data.samples:
        by_image.setdefault(s.path, []).append(s)
    items = list(by_image.items())
    chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    copies = augment.copies_per_class(data.counts()) if augment is not None else {}
    jobs = (delayed(_crop_chunk)(chunk, (spec, *also), detector, augment, copies,
                                 np.random.default_rng([seed, k]), max_pixels)
            for k, chunk in enumerate(chunks))
    parts = []
    for chunk, part in zip(chunks, Parallel(n_jobs=min(n_jobs, len(chunks)) or 1,
                                            return_as="generator")(jobs)):
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
                           for j in range(1, 1 + len(also))))


_CHUNK = 32   # images per parallel job


def _crop_chunk(items, specs, detector, augment, copies, rng, max_pixels) -> dict:
    """The faces of a few images, in order: each face, then its augmented copies.

    ``out["crops"][j]`` holds the crops by rule ``specs[j]``.
    """
    cut = [[] for _ in specs]
    out = {"labels": [], "groups": [], "origin": [], "sources": [], "skipped": []}
    for path, samples in items:
        try:
            image = read_image(path, max_pixels=max_pixels)
        except ImageError as exc:
            out["skipped"].append(str(exc))
            continue
        gray = to_gray(image)
        for s in samples:
            box, how = (s.box, "box") if s.box is not None else whole_or_detected(image, detector)
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


def _platt(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``p = 1 / (1 + exp(a * s + b))`` fitted to held-out scores.

    Positives and negatives weigh the same in the fit, so the probability is
    the one the class would have if it were as common as the rest: a rare
    class (incorrectly worn masks) is not talked down by its rarity.
    """
    from sklearn.linear_model import LogisticRegression

    if positive.all() or not positive.any():
        return -1.0, 0.0
    lr = LogisticRegression(C=1e4, class_weight="balanced").fit(scores.reshape(-1, 1), positive)
    return -float(lr.coef_[0, 0]), -float(lr.intercept_[0])


def _fit_svm(X, y, C, seed):
    from sklearn.svm import LinearSVC

    # The primal solver: far faster than the dual when faces outnumber features.
    return LinearSVC(C=C, class_weight="balanced", dual=False, max_iter=5000,
                     random_state=seed).fit(X, y)


def _calibrated(svm, scaler, classes, Xv, y_val, *, crop, features) -> MaskClassifier:
    """One fitted SVM as a :class:`MaskClassifier`: its scores on the validation faces,
    which it never saw, fit the Platt sigmoids; the standardisation is folded into the weights."""
    # scikit-learn orders classes alphabetically; maskhog orders them as CLASSES.
    k = 1 if len(classes) == 2 else len(classes)
    held_out = svm.decision_function(Xv).reshape(len(y_val), k)
    coef, intercept = svm.coef_, svm.intercept_
    if k == 1:
        if svm.classes_[1] != classes[1]:
            coef, intercept, held_out = -coef, -intercept, -held_out
        calib = [_platt(held_out[:, 0], y_val == classes[1])]
    else:
        order = [list(svm.classes_).index(c) for c in classes]
        coef, intercept, held_out = coef[order], intercept[order], held_out[:, order]
        calib = [_platt(held_out[:, j], y_val == c) for j, c in enumerate(classes)]
    # w.(x - mu)/sd + b = (w/sd).x + (b - w.mu/sd).
    w = coef / scaler.scale_
    b = intercept - w @ scaler.mean_
    a_, b_ = zip(*calib)
    return MaskClassifier(classes, w, b, a_, b_, crop=crop, features=features)


def log_loss(model: MaskClassifier, X, y) -> float:
    """Mean negative log of the calibrated probability each face's true class gets."""
    p = model.predict_proba(X)
    truth = np.array([model.classes.index(c) for c in y])
    return float(-np.log(np.clip(p[np.arange(len(p)), truth], 1e-12, 1)).mean())


def fit_classifier(X_train, y_train, X_val, y_val, *, C_grid=C_GRID, seed=0, crop: CropSpec,
                   features: dict | None = None, n_jobs: int = 2,
                   log_fn=None) -> tuple[MaskClassifier, dict]:
    """Fit a linear SVM per C, calibrate each on the validation faces, keep the best.

    The SVMs of the C grid are fitted in parallel (``n_jobs`` processes). Each
    one's scores on the validation faces fit its Platt sigmoids, and the C
    whose calibrated probabilities have the lowest log-loss there is kept (of
    equals, the smaller C). The probabilities are what the cascade and the
    decisions read, so they are what is judged: the balanced accuracy of the
    raw votes, used before, turned on a few of the 14 validation faces of
    ``incorrect_mask`` and picked a C that scored worse on the test faces
    (``docs/studies/c-choice/REPORT.md``).

    Returns the model and a record of the search.
    """
    from joblib import Parallel, delayed
    from sklearn.preprocessing import StandardScaler

    classes = [c for c in CLASSES if c in set(y_train)]
    if len(classes) < 2:
        raise ValueError(f"training needs at least two classes, got {classes}")
    scaler = StandardScaler().fit(X_train)
    Xt, Xv = scaler.transform(X_train), scaler.transform(X_val)
    svms = Parallel(n_jobs=n_jobs)(delayed(_fit_svm)(Xt, y_train, C, seed) for C in C_grid)
    models = [_calibrated(svm, scaler, classes, Xv, y_val, crop=crop, features=features) for svm in svms]
    search = {}
    for C, model in zip(C_grid, models):
        search[C] = round(log_loss(model, X_val, y_val), 6)
        if log_fn:
            log_fn(f"C={C:g}: validation log-loss {search[C]:.4f}")
    best = min(range(len(C_grid)), key=lambda i: (search[C_grid[i]], C_grid[i]))
    return models[best], {"criterion": "validation log-loss of the calibrated probabilities",
                          "C_grid": {str(c): s for c, s in search.items()}, "C": C_grid[best]}


def fit_with_fallback(X_train, y_train, X_val, y_val, *, crop: CropSpec, features: dict,
                      C_grid=C_GRID, seed=0, log_fn=None) -> tuple[MaskClassifier, dict]:
    """:func:`fit_classifier`, plus the gray fallback when the features include colour cues.

    The fallback is fitted the same way on the HOG + LBP columns alone (the
    first ones of :func:`maskhog.features.face_features`) of the same faces:
    it decides for crops without colour (:meth:`MaskClassifier.achromatic`).
    """
    model, search = fit_classifier(X_train, y_train, X_val, y_val, C_grid=C_grid, seed=seed,
                                   crop=crop, features=features, log_fn=log_fn)
    if "color" in features:
        texture = {k: v for k, v in features.items() if k != "color"}
        d = face_features(np.zeros((1, crop.size, crop.size), np.uint8), **texture).shape[1]
        if log_fn:
            log_fn("gray fallback (HOG + LBP alone):")
        model.gray, search["gray"] = fit_classifier(
            X_train[:, :d], y_train, X_val[:, :d], y_val, C_grid=C_grid, seed=seed,
            crop=replace(crop, color=False), features=texture, log_fn=log_fn)
    return model, search


def train(roots, *, out=None, spec: CropSpec = CropSpec(color=True), features: dict | None = None,
          augment: Augment | None = Augment(), detector=None, seed: int = 0, C_grid=C_GRID,
          max_pixels: int = DEFAULT_MAX_PIXELS, progress_factory=None,
          log_fn=print) -> tuple[MaskClassifier, dict]:
    """Train on data folders, report held-out test figures, optionally save.

    Parameters
    ----------
    roots : list of paths
        Class folders and/or Pascal VOC folders, combined.
    out : path, optional
        Where to save the model.
    spec : CropSpec
        The crop rule; colour crops (the default) for colour cues.
    features : dict, optional
        Feature settings (:func:`maskhog.features.face_features`); default
        :data:`MASK_FEATURES` for colour crops, the same without colour cues for gray ones.
    augment, detector, seed, C_grid, max_pixels
        See :class:`Augment`, :mod:`maskhog.detect`.
    progress_factory : callable(total, label) -> context manager with ``update(n)``
    log_fn : callable(str)
        Where progress messages go.

    Returns
    -------
    model, report : the model and a dict of figures (also stored in the model).
    """
    from .evaluation import classification_metrics

    start = time.time()
    data = load_datasets(roots)
    log_fn(f"{len(data)} faces from {len(roots)} folder(s): {data.counts()}")
    train_idx, val_idx, test_idx = group_split(data, (0.7, 0.15, 0.15), seed=seed)
    parts = {}
    for name, idx, aug in (("train", train_idx, augment), ("validation", val_idx, None),
                           ("test", test_idx, None)):
        subset = data.subset(idx)
        n_images = len({s.path for s in subset.samples})
        if progress_factory:
            with progress_factory(n_images, f"cropping {name} faces") as bar:
                parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=seed,
                                         max_pixels=max_pixels, progress=bar.update)
        else:
            parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=seed,
                                     max_pixels=max_pixels)
        log_fn(f"{name}: {parts[name].summary()}")

    if features is None:
        # Gray crops: the same settings without the colour cues, as for the gray fallback.
        features = dict(MASK_FEATURES) if spec.color else {k: v for k, v in MASK_FEATURES.items()
                                                           if k != "color"}
    X = {name: face_features(p.crops, **features) for name, p in parts.items()}
    model, search = fit_with_fallback(X["train"], parts["train"].labels, X["validation"],
                                      parts["validation"].labels, C_grid=C_grid, seed=seed, crop=spec,
                                      features=features, log_fn=log_fn)
    test = parts["test"]
    gray_metrics = None
    if model.gray is not None:   # the fallback on the test faces turned gray
        gray = model.gray
        gray_metrics = classification_metrics(
            test.labels, gray.predict_proba(X["test"][:, :gray.n_features]), model.classes)
    metrics = classification_metrics(test.labels, model.predict_proba(X["test"]), model.classes)
    # Annotation problems of the whole data set, then unreadable images of each part.
    skipped = sorted(set(data.skipped).union(*(p.skipped for p in parts.values())))
    report = {
        "data": {"roots": [str(r) for r in roots], "kinds": data.kinds, "faces": data.counts(),
                 "split": {k: v.summary() for k, v in parts.items()}, "seed": seed,
                 "skipped": len(skipped)},
        "augment": augment.to_dict() if augment else None,
        "detector": getattr(getattr(detector, "detector", detector), "name", None),
        "search": search,
        "test_metrics": metrics,
        "gray_test_metrics": gray_metrics,
        "seconds": round(time.time() - start, 1),
    }
    model.info = {"training": report, "versions": _versions()}
    if out:
        model.save(out)
    return model, report


def _versions() -> dict:
    import cv2
    import sklearn

    from . import __version__
    return {"maskhog": __version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "scikit-learn": sklearn.__version__}
