"""Do proposals from lower template scores give the verifier more faces to keep?

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/verifier-data/lower_candidates.py

The shipped templates propose from -2.0 in the recipe's held-out fifth and test photos (each
as it is and enlarged 1.5x); the shipped verifier scores every proposal by its rule (crop and
mirror image, plus w x the template score). For each lowest template score kept (the
shipped -1.4, then -1.6, -1.8, -2.0) and w 2 or 3, the threshold is chosen on the held-out
fifth as the recipe chooses it, and the test photos are counted at it. (Proposals under
the lowest score are dropped, not given a low value: the threshold search takes 401
quantiles of the values, and a mass of dropped ones would coarsen its grid.)
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


def log_odds(crops):
    z = verifier.net.logits(np.ascontiguousarray(crops))
    return z[:, 1] - z[:, 0]


parts = {}
for part, paths in (("test", test), ("held", (train + val)[::5])):
    rows = _proposals(paths, photos, MaskHog(verifier=False), -2.0, None, None, (1.0, 1.5),
                      describe=lambda image, found: crop_faces(image, [f.box for f in found], verifier.crop))
    seen = []
    for r in rows:
        crops, r["X"] = r["X"], None
        seen.append(None if crops is None else ((log_odds(crops) + log_odds(crops[:, :, ::-1])) / 2,
                                                np.array([f.score for f in r["faces"]])))
    parts[part] = rows, seen


def from_score(part, low, w):
    """The rows with only their proposals of template score >= ``low``, and their rule values."""
    out, values = [], []
    for r, x in zip(*parts[part]):
        r = dict(r)
        keep = np.zeros(0, int) if x is None else np.flatnonzero(x[1] >= low)
        r["faces"] = [r["faces"][i] for i in keep]
        out.append(r)
        values.append(np.zeros(0) if x is None else (x[0] + w * x[1])[keep])
    return out, values


print("| proposals from | w | held-out fifth: mean recall | test 1x | test 1.5x | proposals per test photo, 1x |")
print("|---|---|---|---|---|---|")
for low in (-1.4, -1.6, -1.8, -2.0):
    for w in (2.0, 3.0):
        mean, t, _ = _best_threshold(*from_score("held", low, w), {"min_precision": 0.90, "min_side": 24})
        rows, values = from_score("test", low, w)
        cells = []
        for scale in (1.0, 1.5):
            at = [(r, v) for r, v in zip(rows, values) if r["scale"] == scale]
            m = _detection_figures(_kept([r for r, _ in at], [v for _, v in at], t), 24)
            cells.append(f"{m['recall_with_mask']:.3f} / {m['recall_without_mask']:.3f} / "
                         f"{m['recall_incorrect_mask']:.2f}, {m['precision']:.3f}")
        n = sum(len(r["faces"]) for r in rows if r["scale"] == 1.0) / len(test)
        print(f"| {low} | {w} | {mean:.4f} | {cells[0]} | {cells[1]} | {n:.0f} |", flush=True)
