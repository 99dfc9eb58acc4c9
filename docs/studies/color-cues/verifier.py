"""Can a linear face/non-face verifier let maskhog's detector run at a lower threshold?

    python docs/studies/color-cues/verifier.py [--work /tmp/verifier]

Runs the shipped detector templates at threshold -0.9 (against -0.175
shipped) over all scene photos, labels each candidate by its best IoU with an
annotated face (>= 0.4 a face, < 0.25 not, else ignored), trains a LinearSVC
on the candidates of the detector recipe's train and validation photos
(features: HOG + LBP of the candidate's crop, with or without the colour
cues, plus the detector's score), and measures on its 137 test photos with
benchmarks/bench_detection.py's matching (faces >= 24 px, IoU >= 0.4).
"""

import argparse
import os
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.setdefault("MASKHOG_DATA", str(ROOT.parent / "shared" / "data")))
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "train")]

import detector_fhog  # noqa: E402
from bench_detection import match  # noqa: E402

from maskhog.crops import CropSpec, crop_faces  # noqa: E402
from maskhog.detect import Face, MaskHog, box_iou  # noqa: E402
from maskhog.features import face_features  # noqa: E402
from maskhog.io import read_image, to_gray  # noqa: E402


def candidates(names, work):
    cache = work / "candidates.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    det, spec, out = MaskHog(threshold=-0.9), CropSpec(64, 0.0, False, color=True), {}
    for name in names:
        image = read_image(DATA / "scenes" / "images" / name)
        faces = det.detect(to_gray(image))
        out[name] = (faces, crop_faces(image, [f.box for f in faces], spec))
    cache.write_bytes(pickle.dumps(out))
    return out


def describe(faces, crops, color):
    X = face_features(crops, **({"color": {}} if color else {}))
    return np.hstack([X, np.array([[f.score] for f in faces], np.float32)])


def measure(test, cands, boxes, keep):
    n, hit, false = Counter(), Counter(), 0
    for name in test:
        faces, crops = cands[name]
        a, b, c = match(keep(faces, crops) if faces else [], boxes[name])
        n, hit, false = n + a, hit + b, false + c
    found = sum(hit.values())
    return (" | ".join(f"{hit[c] / n[c]:.2f}" for c in ("with_mask", "without_mask", "incorrect_mask"))
            + f" | {found / max(1, found + false):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/verifier"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    train, val, test = detector_fhog.split_images()
    boxes = detector_fhog.load_boxes()
    cands = candidates(list(train) + list(val) + list(test), args.work)
    print("| operating point | recall mask | recall no mask | recall incorrect | precision |")
    print("|---|---|---|---|---|")
    for th in (-0.175, -0.4, -0.6, -0.9):
        print(f"| detector alone, threshold {th} | "
              + measure(test, cands, boxes, lambda fs, cr, th=th: [f for f in fs if f.score >= th]) + " |")
    for color in (False, True):
        X, y = [], []
        for name in list(train) + list(val):
            faces, crops = cands[name]
            if not faces:
                continue
            iou = np.array([max([box_iou(f.box, b[1:]) for b in boxes[name]] or [0]) for f in faces])
            label = np.where(iou >= 0.4, 1, np.where(iou < 0.25, 0, -1))
            X.append(describe(faces, crops, color)[label >= 0])
            y.append(label[label >= 0])
        X, y = np.vstack(X), np.concatenate(y)
        scaler = StandardScaler().fit(X)
        svm = LinearSVC(C=0.001, class_weight="balanced", dual=False, max_iter=5000)
        svm.fit(scaler.transform(X), y)
        for t in (-0.25, 0.0, 0.25, 0.5):
            def keep(fs, cr, t=t):
                v = svm.decision_function(scaler.transform(describe(fs, cr, color)))
                return [Face(f.box, float(s)) for f, s in zip(fs, v) if s >= t]
            what = "HOG + LBP + colour" if color else "HOG + LBP"
            print(f"| verifier ({what} + score) >= {t} | " + measure(test, cands, boxes, keep) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
