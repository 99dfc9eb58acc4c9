"""Score rules for one or more CNN face verifiers, on the same proposals.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/verifier-data/rules.py maskhog/models/face_verifier.onnx WORK/fv_pasted.onnx ...

The shipped templates propose from -1.4 in the detector recipe's 137 test photos and in the
held-out fifth of its training photos, each as it is and enlarged 1.5x. Every verifier scores
every crop and its mirror image. Each rule's threshold is chosen on the held-out fifth (the
most faces, mean recall of masked and unmasked, at precision >= 0.90, both scales together,
as the recipe chooses it); the test photos are counted at it. Rules: each verifier alone and
the mean of all of them (the shipped rule: mean of crop and mirror log-odds + w x template
score); the shipped verifier with a term for the proposal's size (c x log(side / 48 px)); and
the shipped verifier with one threshold per scale.
"""
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import crop_faces
from maskhog.detect import MaskHog
from maskhog.detector_training import _best_threshold, _detection_figures, _kept, _proposals, _split_scenes
from maskhog.verify import CnnFaceVerifier

cv2.setNumThreads(2)
nets = [CnnFaceVerifier(p) for p in sys.argv[1:]]
n = len(nets)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (train, val, test) = _split_scenes([data / "scenes"], 0)
photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
held = (train + val)[::5]
proposer = MaskHog(verifier=False)
SETTINGS = {"min_precision": 0.90, "min_side": 24}


def log_odds(verifier, crops):
    z = verifier.net.logits(np.ascontiguousarray(crops))
    return z[:, 1] - z[:, 0]


parts = {}
for part, paths in (("test", test), ("held", held)):
    rows = _proposals(paths, photos, proposer, -1.4, None, None, (1.0, 1.5),
                      describe=lambda image, found: crop_faces(image, [f.box for f in found], nets[0].crop))
    seen = []
    for r in rows:
        crops, r["X"] = r["X"], None
        if crops is None:
            seen.append([np.zeros(0)] * (2 * n + 2))
            continue
        side = np.array([(f.box[2] - f.box[0]) * r["scale"] for f in r["faces"]], float)
        seen.append([log_odds(v, crops) for v in nets] + [log_odds(v, crops[:, :, ::-1]) for v in nets]
                    + [np.array([f.score for f in r["faces"]]), side])
    parts[part] = rows, seen


def rule(nets_used, w, c=0.0):
    def score(x):
        odds = np.mean([(x[i] + x[n + i]) / 2 for i in nets_used], axis=0)
        size = np.log(np.maximum(x[-1], 1) / 48) if len(x[-1]) else 0.0
        return odds + w * x[-2] + c * size
    return score


def figures(rows, values, t):
    m = _detection_figures(_kept(rows, values, t), 24)
    return (f"{m['recall_with_mask']:.3f} / {m['recall_without_mask']:.3f} / {m['recall_incorrect_mask']:.2f}, "
            f"{m['precision']:.3f}")


def report(name, score, per_scale=False):
    held_rows, held_seen = parts["held"]
    test_rows, test_seen = parts["test"]
    cells, mean = [], None
    for scale in (1.0, 1.5):
        pick = [(r, x) for r, x in zip(held_rows, held_seen) if per_scale is False or r["scale"] == scale]
        found = _best_threshold([r for r, _ in pick], [score(x) for _, x in pick], SETTINGS)
        mean = found[0] if mean is None else mean
        at = [(r, score(x)) for r, x in zip(test_rows, test_seen) if r["scale"] == scale]
        cells.append(figures([r for r, _ in at], [v for _, v in at], found[1]))
    print(f"| {name} | {mean:.4f} | {cells[0]} | {cells[1]} |", flush=True)


print("| rule | held-out fifth: mean recall | test 1x: masked / unmasked / badly worn, precision | test 1.5x |")
print("|---|---|---|---|")
names = [Path(p).stem for p in sys.argv[1:]]
for w in (0.0, 1.0, 2.0, 3.0):
    for i, name in enumerate(names):
        report(f"{name}, w {w}", rule([i], w))
    if n > 1:
        report(f"mean of all {n}, w {w}", rule(range(n), w))
for c in (-2.0, -1.0, 1.0, 2.0):
    report(f"{names[0]}, w 2, size term c {c}", rule([0], 2.0, c))
print("\nOne threshold per scale, each chosen on the held-out fifth's proposals at that scale "
      "(the mean recall column is the 1x one):")
for w in (1.0, 2.0, 3.0):
    report(f"{names[0]}, w {w}, per scale", rule([0], w), per_scale=True)
