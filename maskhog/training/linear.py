"""Training a mask classifier: labelled faces in, a calibrated linear model out.

The steps, each a function of its own:

1. :func:`maskhog.training.faces.face_crops` cuts every labelled face with
   the crop rule (and adds augmented copies for training faces);
2. :func:`maskhog.features.face_features` describes the crops: HOG and LBP
   of the gray crop, plus where skin shows and the mean chroma (colour crops);
3. :func:`fit_classifier` standardises the features, fits a linear SVM with
   balanced class weights for each C of a grid, turns each one's scores into
   probabilities with Platt sigmoids fitted on the validation faces, and keeps
   the C whose probabilities have the lowest log-loss there; with colour cues,
   :func:`fit_with_fallback` fits a second set of weights on HOG + LBP alone
   for colourless faces;
4. :func:`train` ties it together on a group-aware train / validation / test
   split and reports the test figures, which the model file keeps.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..classify import MaskClassifier
from ..crops import CropSpec
from ..features import face_features
from ..io import DEFAULT_MAX_PIXELS
from ..labels import CLASSES
from ..progress import stage
from .augment import Augment
from .data import group_split, load_datasets
from .faces import face_crops
from .metrics import classification_metrics

__all__ = ["fit_classifier", "fit_with_fallback", "log_loss", "train", "C_GRID", "COLOR_FEATURES",
           "MASK_FEATURES"]

#: SVM regularisation strengths tried on the validation faces. Judged by validation log-loss,
#: the shipped recipe's crops favour the small end (docs/design.md#c-choice): 0.0003
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
    raw votes turns on a few of the 14 validation faces of ``incorrect_mask``
    (docs/design.md#c-choice).

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
          log_fn=print, cluster=None, scene_boxes: str = "annotated") -> tuple[MaskClassifier, dict]:
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
        See :class:`~maskhog.training.augment.Augment` and :func:`~maskhog.training.faces.face_finder`.
    progress_factory : callable(total, label) -> context manager with ``update(n)``
    log_fn : callable(str)
        Where progress messages go.
    cluster : str or distributed.Client, optional
        Cut the faces on a Dask cluster's workers (:func:`~maskhog.training.faces.face_crops`).
    scene_boxes : str
        Where annotated faces are cut, in every part of the split: "annotated", "found" or
        "found-only" (:data:`~maskhog.training.faces.SCENE_BOXES`; the latter two with ``detector``).

    Returns
    -------
    model, report : the model and a dict of figures (also stored in the model).
    """
    start = time.time()
    with stage("reading the folders"):
        data = load_datasets(roots)
    log_fn(f"{len(data)} faces from {len(roots)} folder(s): {data.counts()}")
    data.require_classes()
    train_idx, val_idx, test_idx = group_split(data, (0.7, 0.15, 0.15), seed=seed)
    parts = {}
    for name, idx, aug in (("train", train_idx, augment), ("validation", val_idx, None),
                           ("test", test_idx, None)):
        subset = data.subset(idx)
        n_images = len({s.path for s in subset.samples})
        if progress_factory:
            with progress_factory(n_images, f"cropping {name} faces") as bar:
                parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=seed,
                                         max_pixels=max_pixels, progress=bar.update, cluster=cluster,
                                         scene_boxes=scene_boxes)
        else:
            parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=seed,
                                     max_pixels=max_pixels, cluster=cluster, scene_boxes=scene_boxes)
        log_fn(f"{name}: {parts[name].summary()}")

    if features is None:
        # Gray crops: the same settings without the colour cues, as for the gray fallback.
        features = dict(MASK_FEATURES) if spec.color else {k: v for k, v in MASK_FEATURES.items()
                                                           if k != "color"}
    with stage("describing the faces"):
        X = {name: face_features(p.crops, **features) for name, p in parts.items()}
    with stage("choosing C and calibrating"):
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
        "scene_boxes": scene_boxes,
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

    from .. import __version__
    return {"maskhog": __version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "scikit-learn": sklearn.__version__}
