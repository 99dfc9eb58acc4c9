"""Would the verifier keep more faces if it also looked at the proposal's box shifted or resized?

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/verifier-data/jitter.py

Many proposed faces the shipped verifier turns down sit in boxes a little off the face (IoU
0.49-0.64 with the annotation). Each proposal of the recipe's held-out fifth and test photos
(as they are and enlarged 1.5x) is also cropped at its box moved by 15% of its side up, down,
left and right, and enlarged 1.25x and shrunk 0.8x. The shipped rule's log-odds (crop and
mirror image) are then combined with those six looks: by max, mean or log-mean-exp, of all
six, of the four shifts only or of the two sizes only, plus 2 or 3 x the template score. Each
threshold is chosen on the held-out fifth, as the recipe chooses it.
"""
import os
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import crop_faces
from maskhog.detect import MaskHog
from maskhog.detector_training import _best_threshold, _detection_figures, _kept, _proposals, _split_scenes
from maskhog.verify import CnnFaceVerifier

cv2.setNumThreads(2)
verifier = CnnFaceVerifier("maskhog/models/face_verifier.onnx")
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (train, val, test) = _split_scenes([data / "scenes"], 0)
photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
held = (train + val)[::5]
LOOKS = [(0, 0, 1.0), (0, -0.15, 1.0), (0, 0.15, 1.0), (-0.15, 0, 1.0), (0.15, 0, 1.0), (0, 0, 1.25), (0, 0, 0.8)]


def moved(boxes, dx, dy, s):
    out = []
    for x1, y1, x2, y2 in boxes:
        w, h = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2 + dx * w, (y1 + y2) / 2 + dy * h
        out.append(tuple(int(round(c)) for c in (cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2)))
    return out


def log_odds(crops):
    z = verifier.net.logits(np.ascontiguousarray(crops))
    return z[:, 1] - z[:, 0]


parts = {}
for part, paths in (("test", test), ("held", held)):
    rows = _proposals(paths, photos, MaskHog(verifier=False), -1.4, None, None, (1.0, 1.5),
                      describe=lambda image, found: [crop_faces(image, moved([f.box for f in found], *m),
                                                                verifier.crop) for m in LOOKS])
    seen = []
    for r in rows:
        crops, r["X"] = r["X"], None
        seen.append(None if crops is None else
                    (np.array([log_odds(c) for c in crops]), log_odds(crops[0][:, :, ::-1]),
                     np.array([f.score for f in r["faces"]])))
    parts[part] = rows, seen


def rule(how, w, looks):
    def score(x):
        if x is None:
            return np.zeros(0)
        a, b, s = x
        shipped, other = (a[0] + b) / 2, a[looks]
        if how == "shipped":
            z = shipped
        elif how == "max":
            z = np.maximum(shipped, other.max(axis=0))
        elif how == "mean":
            z = (2 * shipped + other.sum(axis=0)) / (2 + len(other))
        else:   # log-mean-exp: a soft max
            z = np.log(np.exp(shipped) + np.exp(other).sum(axis=0)) - np.log(1 + len(other))
        return z + w * s
    return score


print("| rule | held-out fifth: mean recall | test 1x: masked / unmasked / badly worn, precision | test 1.5x |")
print("|---|---|---|---|")
held_rows, held_seen = parts["held"]
test_rows, test_seen = parts["test"]
for how, looks, name in [("shipped", [], "shipped"), ("max", [1, 2, 3, 4, 5, 6], "max of all six"),
                         ("mean", [1, 2, 3, 4, 5, 6], "mean of all six"),
                         ("soft", [1, 2, 3, 4, 5, 6], "log-mean-exp of all six"),
                         ("mean", [1, 2, 3, 4], "mean of the four shifts"), ("max", [5, 6], "max of the two sizes"),
                         ("mean", [5, 6], "mean of the two sizes")]:
    for w in (2.0, 3.0):
        score = rule(how, w, looks)
        _, t, _ = found = _best_threshold(held_rows, [score(x) for x in held_seen], {"min_precision": 0.90,
                                                                                    "min_side": 24})
        cells = []
        for scale in (1.0, 1.5):
            at = [(r, score(x)) for r, x in zip(test_rows, test_seen) if r["scale"] == scale]
            m = _detection_figures(_kept([r for r, _ in at], [v for _, v in at], t), 24)
            cells.append(f"{m['recall_with_mask']:.3f} / {m['recall_without_mask']:.3f} / "
                         f"{m['recall_incorrect_mask']:.2f}, {m['precision']:.3f}")
        print(f"| {name}, w {w} | {found[0]:.4f} | {cells[0]} | {cells[1]} |", flush=True)
