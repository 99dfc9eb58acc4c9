"""The gray weights alone, per C, on the faces cut_features.py saved (2026-11-27, second look).

    python docs/studies/c-choice/gray_weights.py 0.0003,0.001,0.003,0.01 [FEATS.npz] [--natural]

For each C: the validation log-loss; test accuracy and balanced accuracy; the share of the
test's bare faces (without_mask) called incorrect_mask and with_mask; the probabilities for
the demo's bare face in gray. ``--natural`` fits the Platt sigmoids with the classes' own
frequencies instead of balanced ones. One line of JSON per C.
"""
import json
import sys
import time
from pathlib import Path
from dataclasses import replace
import cv2
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "train"))
from default_model import SETTINGS
from maskhog.cli import _demo_images
from maskhog.crops import crop_faces
from maskhog.features import face_features
from maskhog.training import fit_classifier, log_loss
from maskhog.evaluation import classification_metrics
spec, features = SETTINGS["crop"], SETTINGS["features"]
args = [a for a in sys.argv[1:] if a != "--natural"]
if "--natural" in sys.argv:
    import maskhog.training
    from sklearn.linear_model import LogisticRegression

    def natural(scores, positive):
        if positive.all() or not positive.any():
            return -1.0, 0.0
        lr = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), positive)
        return -float(lr.coef_[0, 0]), -float(lr.intercept_[0])
    maskhog.training._platt = natural
F = np.load(args[1] if len(args) > 1 else "/tmp/feats.npz")
texture = {k: v for k, v in features.items() if k != "color"}
d = face_features(np.zeros((1, spec.size, spec.size), np.uint8), **texture).shape[1]
gspec = replace(spec, color=False)
bare = crop_faces(cv2.cvtColor(_demo_images()[0][1], cv2.COLOR_BGR2GRAY), [(165, 80, 275, 190)], gspec)
grid = tuple(float(c) for c in args[0].split(","))
for C in grid:
    t = time.time()
    g, _ = fit_classifier(F["X_train"][:, :d], F["y_train"], F["X_validation"][:, :d], F["y_validation"], C_grid=(C,), crop=gspec, features=texture)
    p = g.predict_proba(F["X_test"][:, :d])
    m = classification_metrics(F["y_test"], p, g.classes)
    pred = np.asarray(g.classes)[p.argmax(1)]
    wo = F["y_test"] == "without_mask"
    demo = g.classify_crops(bare)[0]
    print(json.dumps({"C": C, "val_ll": round(log_loss(g, F["X_validation"][:, :d], F["y_validation"]), 4),
      "test_acc": round(m["accuracy"], 4), "bal": round(m["balanced_accuracy"], 4),
      "without->incorrect": round(float((pred[wo] == "incorrect_mask").mean()), 4),
      "without->with": round(float((pred[wo] == "with_mask").mean()), 4),
      "demo": dict(zip(g.classes, np.round(demo, 3).tolist())), "s": round(time.time() - t)}), flush=True)
