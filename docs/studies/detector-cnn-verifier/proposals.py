"""Step 1 of the CNN-verifier study: the templates' proposals, their SVM features and their crops.

    cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-cnn-verifier/proposals.py [--work /tmp/cnnver]

Splits the scene photos exactly as ``maskhog.detector_training.train_verifier``
does (``_split_scenes(..., seed 0)``), runs the shipped templates at -0.9 on
the train+validation photos ("fit") and on the 137 test photos, at scales
1.0 and 1.5, with the project's own ``_proposals``. While it runs,
``maskhog.verify.describe_proposals`` is wrapped so that the 64x64 BGR crop
of every proposal (cut from the *resized* image, as the verifier sees it at
run time) is kept next to its SVM features.

Writes, per part (``fit``, ``test``) under ``--work``:
``{part}_crops.npy`` (N, 64, 64, 3) uint8, ``{part}_X.npy`` (N, 2021) float32
(the shipped verifier's features, template score last), and
``{part}_rows.pkl`` (the rows without X, plus ``start``/``stop`` into the arrays).
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import maskhog.verify as verify  # noqa: E402
from maskhog import detector_training as dt  # noqa: E402
from maskhog.crops import CropSpec, crop_faces  # noqa: E402
from maskhog.detect import MaskHog  # noqa: E402
from maskhog.training import COLOR_FEATURES  # noqa: E402

cv2.setNumThreads(1)
SCENES = Path(os.environ.get("MASKHOG_DATA", "/work/shared/data")) / "scenes"
CROP = CropSpec(64, 0.0, False, color=True)
SCALES = (1.0, 1.5)


def split():
    """``(photos {path: [(label, x1, y1, x2, y2)]}, train, val, test)`` as train_verifier has them."""
    boxed, (train, val, test) = dt._split_scenes([SCENES], 0)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    return photos, train, val, test


def collect(paths, photos, proposer):
    """``_proposals`` rows, with the crops its ``describe_proposals`` calls cut."""
    captured = []
    original = verify.describe_proposals

    def describe(image, faces, crop, features):
        captured.append(crop_faces(image, [f.box for f in faces], crop))
        return original(image, faces, crop, features)

    verify.describe_proposals = describe
    try:
        rows = dt._proposals(paths, photos, proposer, -0.9, CROP, COLOR_FEATURES, SCALES)
    finally:
        verify.describe_proposals = original
    crops, X, at = [], [], 0
    for r in rows:
        if r["faces"]:
            c = captured.pop(0)
            assert len(c) == len(r["faces"]) == len(r["X"])
            crops.append(c)
            X.append(r["X"].astype(np.float32))
        r["start"], at = at, at + len(r["faces"])
        r["stop"] = at
        r["path"] = paths[r["photo"]]
        del r["X"]
    assert not captured
    return rows, np.concatenate(crops), np.concatenate(X)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/cnnver"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    photos, train, val, test = split()
    proposer = MaskHog(verifier=False)
    for part, paths in (("test", test), ("fit", train + val)):
        start = time.time()
        rows, crops, X = collect(paths, photos, proposer)
        np.save(args.work / f"{part}_crops.npy", crops)
        np.save(args.work / f"{part}_X.npy", X)
        (args.work / f"{part}_rows.pkl").write_bytes(pickle.dumps(rows))
        print(f"{part}: {len(paths)} photos, {len(rows)} rows, {len(crops)} proposals "
              f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
