"""Which colour cues help a linear mask classifier across sources?

    python docs/studies/color-cues/cues.py [--work /tmp/cues] [variant ...]

Trains a LinearSVC (balanced, standardised features, three C values) on every
faces/ photo plus two augmented copies each (colour crops, the shipped crop
rule), and tests on the with_mask / without_mask boxes of scenes/ with a
shorter side of at least 24 px: the cross-source figure of train/measure.py,
at fixed C instead of C chosen on validation faces. Every variant is HOG + LBP
of the gray crop plus one set of colour values.
"""

import argparse
import os
from pathlib import Path

import cv2
import numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from maskhog.augment import Augment
from maskhog.crops import CropSpec
from maskhog.data import load_dataset
from maskhog.features import color_features, gray_crops, hog_lbp_features
from maskhog.training import face_crops

DATA = Path(os.environ.get("MASKHOG_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))


def cells(values, grid):
    """Mean of each cell of a grid x grid partition: (N, S, S, C) -> (N, grid * grid * C)."""
    n, s = values.shape[0], values.shape[1] // grid
    return values.reshape(n, grid, s, grid, s, -1).mean(axis=(2, 4)).reshape(n, -1)


def convert(crops, code):
    n, h, w, _ = crops.shape
    return cv2.cvtColor(crops.reshape(n * h, w, 3), code).reshape(n, h, w, 3).astype(np.float32)


def chroma_histograms(crops, grid, bins):
    """Joint Cr-Cb histogram (bins x bins over 64..192) of each grid cell."""
    cc = convert(crops, cv2.COLOR_BGR2YCrCb)[..., 1:]
    n, s = len(crops), crops.shape[1] // grid
    q = np.clip(((cc - 64) / 128 * bins).astype(int), 0, bins - 1)
    code = (q[..., 0] * bins + q[..., 1]).reshape(n, grid, s, grid, s).transpose(0, 1, 3, 2, 4)
    code = code.reshape(n, grid * grid, s * s)
    return np.stack([(code == k).mean(-1) for k in range(bins * bins)], -1).reshape(n, -1)


def skin(crops, cell):
    return color_features(crops, skin_cell=cell, chroma_grid=1)[:, :-2]


def crcb(crops, grid):
    return color_features(crops, skin_cell=crops.shape[1], chroma_grid=grid)[:, 1:]


VARIANTS = {
    "none (HOG + LBP)": lambda c: np.zeros((len(c), 0), np.float32),
    "mean Cr, Cb, 4x4": lambda c: crcb(c, 4),
    "mean Cr, Cb, 8x8": lambda c: crcb(c, 8),
    "mean a*, b* (Lab), 4x4": lambda c: cells(convert(c, cv2.COLOR_BGR2Lab)[..., 1:], 4),
    "mean r, g chromaticity, 4x4": lambda c: cells((c + 1.0) / (c + 1.0).sum(-1, keepdims=True), 4)[:, 16:],
    "skin share, 8x8": lambda c: skin(c, 8),
    "Cr-Cb histograms 4x4 bins, 4x4 grid": lambda c: chroma_histograms(c, 4, 4),
    "Cr-Cb histograms 6x6 bins, 4x4 grid": lambda c: chroma_histograms(c, 4, 6),
    "skin share 8x8 + mean Cr, Cb 4x4 (shipped)": lambda c: color_features(c),
    "skin share 4x4 + mean Cr, Cb 4x4": lambda c: np.hstack([skin(c, 16), crcb(c, 4)]),
    "skin share 16x16 + mean Cr, Cb 4x4": lambda c: np.hstack([skin(c, 4), crcb(c, 4)]),
    "skin share 8x8 + mean Cr, Cb 8x8": lambda c: np.hstack([skin(c, 8), crcb(c, 8)]),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/cues"))
    parser.add_argument("variants", nargs="*", help=f"default: all of {list(VARIANTS)}")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "crops.npz"
    if not cache.exists():
        spec = CropSpec(64, 0.0, False, color=True)
        f = face_crops(load_dataset(DATA / "faces"), spec, augment=Augment(copies=2), seed=0)
        s = face_crops(load_dataset(DATA / "scenes"), spec)
        side = np.array([min(b[2] - b[0], b[3] - b[1]) for _, b in s.sources])
        keep = (side >= 24) & (s.labels != "incorrect_mask")
        np.savez(cache, train=f.crops, y_train=f.labels, test=s.crops[keep], y_test=s.labels[keep])
    d = np.load(cache)
    train, test, y_train, y_test = d["train"], d["test"], d["y_train"], d["y_test"]
    texture = hog_lbp_features(gray_crops(train)), hog_lbp_features(gray_crops(test))
    print(f"{len(train)} training crops (faces/, with copies), {len(test)} scene faces\n")
    print("| colour values | n | C=0.001 | C=0.003 | C=0.01 | recall with / without (C=0.001) |")
    print("|---|---|---|---|---|---|")
    for name in args.variants or VARIANTS:
        fn = VARIANTS[name]
        X_train, X_test = np.hstack([texture[0], fn(train)]), np.hstack([texture[1], fn(test)])
        scaler = StandardScaler().fit(X_train)
        accs, recalls = [], ""
        for C in (0.001, 0.003, 0.01):
            svm = LinearSVC(C=C, class_weight="balanced", dual=False, max_iter=5000)
            p = svm.fit(scaler.transform(X_train), y_train).predict(scaler.transform(X_test))
            accs.append(f"{np.mean(p == y_test):.3f}")
            if C == 0.001:
                recalls = " / ".join(f"{np.mean(p[y_test == c] == c):.2f}" for c in ("with_mask", "without_mask"))
        print(f"| {name} | {X_train.shape[1] - texture[0].shape[1]} | {' | '.join(accs)} | {recalls} |", flush=True)


if __name__ == "__main__":
    main()
