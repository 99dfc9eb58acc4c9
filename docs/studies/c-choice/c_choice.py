"""How steady is the shipped recipe's choice of C? Every C of the grid, judged several ways.

    python docs/studies/c-choice/c_choice.py [--templates DIR] [--data ../shared/data] > out.json

Cuts the faces exactly as train/default_model.py does (its settings and split; the faces of
faces/ photos found by the detector whose templates and verifier are in DIR, default the
shipped ones), then fits the colour weights and the gray fallback for each C of the grid
(maskhog.training.fit_classifier with that C alone) and prints, per C, what the validation
faces say (balanced accuracy: the recipe's criterion; macro F1; log-loss of the calibrated
probabilities) and what the held-out test faces say, plus the gray weights' label for the
demo's bare face. Not part of the recipe.
"""
import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "train"))
from default_model import SETTINGS  # noqa: E402

from maskhog.cli import _demo_images  # noqa: E402
from maskhog.crops import crop_faces  # noqa: E402
from maskhog.data import group_split, load_datasets  # noqa: E402
from maskhog.evaluation import classification_metrics  # noqa: E402
from maskhog.features import face_features  # noqa: E402
from maskhog.training import C_GRID, face_crops, face_finder, fit_classifier, log_loss  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", type=Path, default=HERE.parents[3] / "shared" / "data")
parser.add_argument("--templates", type=Path)
args = parser.parse_args()

spec, features, seed = SETTINGS["crop"], SETTINGS["features"], SETTINGS["seed"]
if args.templates:
    from maskhog.detect import MaskHog
    from maskhog.pipeline import MaskDetector
    finder = MaskDetector(MaskHog(folder=args.templates))
else:
    finder = face_finder()
gray_spec = replace(spec, color=False)
data = load_datasets([args.data / "faces", args.data / "scenes"])
idx = group_split(data, (0.7, 0.15, 0.15), seed=seed)
parts = {name: face_crops(data.subset(i), spec, detector=finder, augment=aug, seed=seed)
         for name, i, aug in zip(("train", "validation", "test"), idx, (SETTINGS["augment"], None, None))}
X = {name: face_features(p.crops, **features) for name, p in parts.items()}
y = {name: p.labels for name, p in parts.items()}
texture = {k: v for k, v in features.items() if k != "color"}
d = face_features(np.zeros((1, spec.size, spec.size), np.uint8), **texture).shape[1]
bare = crop_faces(cv2.cvtColor(_demo_images()[0][1], cv2.COLOR_BGR2GRAY), [(165, 80, 275, 190)], gray_spec)


def judged(model, Xv, Xt):
    out = {}
    for name, Xs, labels in (("validation", Xv, y["validation"]), ("test", Xt, y["test"])):
        p = model.predict_proba(Xs)
        m = classification_metrics(labels, p, model.classes)
        out[name] = {"balanced_accuracy": round(m["balanced_accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                     "accuracy": round(m["accuracy"], 4), "log_loss": round(log_loss(model, Xs, labels), 4),
                     "incorrect_recall": round(m["per_class"]["incorrect_mask"]["recall"], 4)}
    return out


rows = []
for C in C_GRID:
    colour, _ = fit_classifier(X["train"], y["train"], X["validation"], y["validation"], C_grid=(C,),
                               seed=seed, crop=spec, features=features)
    gray, _ = fit_classifier(X["train"][:, :d], y["train"], X["validation"][:, :d], y["validation"],
                             C_grid=(C,), seed=seed, crop=gray_spec, features=texture)
    label = gray.classes[int(gray.classify_crops(bare).argmax())]
    rows.append({"C": C, "colour": judged(colour, X["validation"], X["test"]),
                 "gray": judged(gray, X["validation"][:, :d], X["test"][:, :d]), "gray_demo_bare_face": label})
    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
print(json.dumps({"templates": str(args.templates or "shipped"), "split": {k: p.summary() for k, p in parts.items()},
                  "rows": rows}, indent=1))
