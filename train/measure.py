"""Measure the figures of maskhog's classifier recipe on data it never saw.

    python train/measure.py [--data ../shared/data] [--quick]

Prints (and writes to train/measurements.json):

* faces_cv:     group-aware 5-fold cross-validation on faces/ (accuracy);
* cross_source: trained on faces/ only, tested on the with_mask / without_mask
                face boxes of scenes/ whose shorter side is at least 24 px;
* scenes_3class: group-aware 5-fold cross-validation on scenes/ by photo,
                three classes: macro F1 and incorrect_mask recall;
* timing:       seconds to classify 1,000 scene crops with a trained model.

Each fold is trained exactly as `maskhog train` trains (the same crop rule,
augmentation of training faces only, C chosen on a validation part of the
training folds, Platt calibration, the gray fallback for colourless faces),
with the settings of default_model.py.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from default_model import SETTINGS, recipe_finder
from maskhog.training.data import load_dataset
from maskhog.training.metrics import classification_metrics
from maskhog.features import face_features
from maskhog.training.faces import face_crops
from maskhog.training.linear import C_GRID, fit_with_fallback

HERE = Path(__file__).resolve().parent


def described(data, spec, features, augment, detector, seed):
    """Features of every face and of its augmented copies, and which face owns each copy."""
    faces = face_crops(data, spec, detector=detector, augment=augment, seed=seed)
    copies = faces.origin == "augmented"
    owner = np.cumsum(~copies)[copies] - 1   # each face is followed by its copies
    X = face_features(faces.crops, **features)
    return {"X": X[~copies], "y": faces.labels[~copies], "g": faces.groups[~copies],
            "Xa": X[copies], "owner": owner, "crops": faces.crops[~copies],
            "boxes": np.array([box for _, box in faces.sources])}


def fit_on(d, index, spec, features, seed, C_grid=C_GRID):
    """Train as `maskhog train` does on the faces ``index`` (+ their augmented copies)."""
    inner = StratifiedGroupKFold(6, shuffle=True, random_state=seed)
    tr, va = next(inner.split(d["X"][index], d["y"][index], d["g"][index]))
    tr, va = index[tr], index[va]
    a = np.isin(d["owner"], tr)
    X_tr = np.concatenate([d["X"][tr], d["Xa"][a]])
    y_tr = np.concatenate([d["y"][tr], d["y"][d["owner"][a]]])
    model, _ = fit_with_fallback(X_tr, y_tr, d["X"][va], d["y"][va], C_grid=C_grid, seed=seed,
                                 crop=spec, features=features)
    return model


def crossval(d, spec, features, k=5, seed=0, C_grid=C_GRID):
    classes = None
    outer = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    y_all, p_all = [], []
    for train_idx, test_idx in outer.split(d["X"], d["y"], d["g"]):
        model = fit_on(d, train_idx, spec, features, seed, C_grid)
        y_all.append(d["y"][test_idx])
        p_all.append(model.predict_proba(d["X"][test_idx]))
        classes = model.classes
    return classification_metrics(np.concatenate(y_all), np.concatenate(p_all), classes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--only", choices=["faces", "cross", "scenes"], action="append",
                        help="Measure only these figures (default: all).")
    parser.add_argument("--margin", type=float, help="Override the recipe's crop margin.")
    parser.add_argument("--faces", choices=["detect", "whole"],
                        help="Override how the recipe cuts faces/ images: found as `predict` "
                             "finds faces, or always the whole image.")
    parser.add_argument("--clahe", choices=["on", "off"], help="Override the recipe's CLAHE.")
    parser.add_argument("--mirror", choices=["on", "off"],
                        help="Override the recipe's mirrored features (a face's vector is the "
                             "mean of its crop's and its mirror image's).")
    parser.add_argument("--gray", action="store_true",
                        help="Gray crops, HOG + LBP only (the recipe adds colour cues).")
    parser.add_argument("--C-grid", type=lambda v: tuple(float(c) for c in v.split(",")),
                        default=C_GRID, help="Comma-separated C candidates (default: the recipe's).")
    parser.add_argument("--out", type=Path, default=HERE / "measurements.json")
    args = parser.parse_args()
    only = set(args.only or ["faces", "cross", "scenes"])
    spec, features = SETTINGS["crop"], SETTINGS["features"]
    if args.gray:
        spec, features = replace(spec, color=False), {k: v for k, v in features.items() if k != "color"}
    if args.mirror:
        features = {**features, "mirror": args.mirror == "on"}
    if args.margin is not None:
        spec = replace(spec, margin=args.margin)
    if args.clahe:
        spec = replace(spec, clahe=args.clahe == "on")
    augment, seed = SETTINGS["augment"], SETTINGS["seed"]
    detector = recipe_finder(args.faces)
    out = {"crop": spec.to_dict(), "features": features}
    start = time.time()

    if only & {"faces", "cross"}:
        faces = described(load_dataset(args.data / "faces"), spec, features, augment, detector, seed)
    if "faces" in only:
        m = crossval(faces, spec, features, seed=seed, C_grid=args.C_grid)
        out["faces_cv"] = {k: m[k] for k in ("n", "accuracy", "balanced_accuracy")}
        print("faces 5-fold group CV:", out["faces_cv"], flush=True)
    if only & {"cross", "scenes"}:
        scenes = described(load_dataset(args.data / "scenes"), spec, features, augment, None, seed)
    if "cross" in only:
        boxes = scenes["boxes"]
        short = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        model = fit_on(faces, np.arange(len(faces["y"])), spec, features, seed, args.C_grid)
        keep = (short >= 24) & np.isin(scenes["y"], model.classes)
        m = classification_metrics(scenes["y"][keep], model.predict_proba(scenes["X"][keep]),
                                   model.classes)
        out["cross_source"] = {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "per_class")}
        print("faces -> scenes (>= 24 px):", json.dumps(out["cross_source"]), flush=True)
        t = time.perf_counter()
        model.classify_crops(scenes["crops"][:1000])
        out["timing"] = {"classify_1000_crops_s": round(time.perf_counter() - t, 3)}
    if "scenes" in only:
        m = crossval(scenes, spec, features, seed=seed, C_grid=args.C_grid)
        out["scenes_3class"] = {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
                                "balanced_accuracy": m["balanced_accuracy"],
                                "recall": {c: v["recall"] for c, v in m["per_class"].items()},
                                "precision": {c: v["precision"] for c, v in m["per_class"].items()},
                                "confusion": m["confusion"]}
        print("scenes 3-class 5-fold group CV:", json.dumps(out["scenes_3class"]), flush=True)
    out["seconds"] = round(time.time() - start, 1)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
