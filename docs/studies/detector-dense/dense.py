#!/usr/bin/env python
"""Study: a Dalal-Triggs sliding-window face detector on maskhog's own HOG core.

    python dense.py train --work /tmp/dense [--cell 6 --cells 6 --color 1 --rounds 3]
    python dense.py eval --work /tmp/dense [--split val|test]

HOG blocks (and, optionally, per-cell colour: skin share, mean Cr, mean Cb)
are computed once per pyramid level; every window's score is a sum of
per-offset matrix products over that grid. A linear SVM learns from
scene faces (all three classes) against random background windows, then
rounds of hard negatives mined from the training photos. Split and matching
as in benchmarks/bench_detection.py (train/detector_fhog.py's split).
"""
import argparse
import csv
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from sklearn.svm import LinearSVC

from maskhog import features
from maskhog.detect import Face, box_iou, merge_duplicates
from maskhog.detector_training import image_split, match_faces as match

DATA = Path(os.environ.get("MASKHOG_DATA", "/work/shared/data"))
SKIN_CR, SKIN_CB = (133, 173), (77, 127)


def load():
    boxes = defaultdict(list)
    for r in csv.DictReader(open(DATA / "scenes" / "boxes.csv")):
        boxes[r["image"]].append((r["label"], *[float(r[k]) for k in ("xmin", "ymin", "xmax", "ymax")]))
    train, val, test = image_split(set(boxes), 0, 0.2, 0.1)
    return boxes, {"train": train, "val": val, "test": test}


class Grid:
    """Per-level cell features of one image and window scoring over them."""

    def __init__(self, bgr, cell, cells, color):
        self.cell, self.n, self.color = cell, cells, color
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        nr, nc = gray.shape[0] // cell, gray.shape[1] // cell
        self.shape = (nr - cells + 1, nc - cells + 1)   # window positions
        self.hog = features.hog(gray, pixels_per_cell=cell).reshape(nr - 1, nc - 1, 36)
        if color:
            ycc = cv2.cvtColor(bgr[: nr * cell, : nc * cell], cv2.COLOR_BGR2YCrCb)
            skin = cv2.inRange(ycc, (0, SKIN_CR[0], SKIN_CB[0]), (255, SKIN_CR[1], SKIN_CB[1]))
            ycc[:, :, 0] = skin   # INTER_AREA at a whole factor is the mean of each cell
            self.col = cv2.resize(ycc.astype(np.float32) / 255, (nc, nr), interpolation=cv2.INTER_AREA)
            self.col[:, :, 1:] -= 0.5

    def window(self, r, c):
        n = self.n
        parts = [self.hog[r:r + n - 1, c:c + n - 1].ravel()]
        if self.color:
            parts.append(self.col[r:r + n, c:c + n].ravel())
        return np.concatenate(parts)

    def scores(self, w, b):
        """Best score over templates (rows of ``w``) of every window position."""
        n = self.n
        R, C = self.shape
        if R <= 0 or C <= 0:
            return np.zeros((0, 0), np.float32)
        w = np.atleast_2d(w)
        T = len(w)
        wh = w[:, : (n - 1) ** 2 * 36].reshape(T, n - 1, n - 1, 36)
        s = np.zeros((R, C, T), np.float32) + np.atleast_1d(b).astype(np.float32)
        for i in range(n - 1):
            for j in range(n - 1):
                s += self.hog[i:i + R, j:j + C] @ wh[:, i, j].T
        if self.color:
            wc = w[:, (n - 1) ** 2 * 36:].reshape(T, n, n, 3)
            for i in range(n):
                for j in range(n):
                    s += self.col[i:i + R, j:j + C] @ wc[:, i, j].T
        return s.max(axis=2)


def pyramid(bgr, first, win, step=1.2):
    """(scale, resized image) from ``first`` down by ``step`` while the window fits."""
    h, w = bgr.shape[:2]
    s = first
    while min(h, w) * s >= win:
        im = cv2.resize(bgr, (int(w * s), int(h * s)),
                        interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        yield s, im
        s /= step


def square(box):
    x1, y1, x2, y2 = box
    side = np.sqrt((x2 - x1) * (y2 - y1))
    return (x1 + x2) / 2, (y1 + y2) / 2, side


def positives(bgr, faces, args, rng, copies=4):
    """Window features of each face: scaled so its square box is the window, cell-aligned."""
    cell, n = args.cell, args.cells
    win, pad = n * cell, 2
    out = []
    for label, *box in faces:
        cx, cy, side = square(box)
        if not side >= args.min_side:   # also drops degenerate boxes
            continue
        for k in range(copies):
            u = 1.0 if k == 0 else rng.uniform(1 / 1.1, 1.1)
            dx, dy = (0, 0) if k == 0 else rng.uniform(-0.5, 0.5, 2) * cell
            f = win / (side * u)
            size = (n + 2 * pad) * cell
            # Affine map: the face centre lands at the chip centre (plus jitter).
            M = np.array([[f, 0, size / 2 + dx - f * cx], [0, f, size / 2 + dy - f * cy]])
            chip = cv2.warpAffine(bgr, M, (size, size), flags=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            for im in (chip, chip[:, ::-1]):
                g = Grid(np.ascontiguousarray(im), cell, n, args.color)
                out.append((g.window(pad, pad), label))
    return out


def far_from_faces(box, faces, limit=0.3):
    for _, *t in faces:
        cx, cy, side = square(t)
        sq = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        if box_iou(box, sq) > limit or box_iou(box, t) > limit:
            return False
    return True


def detect(bgr, w, b, args, threshold, first=None, keep=None):
    """Faces (boxes in the image's pixels) scoring above ``threshold``."""
    cell, n = args.cell, args.cells
    first = first or args.first
    found = []
    for s, im in pyramid(bgr, first, n * cell):
        g = Grid(im, cell, n, args.color)
        sc = g.scores(w, b)
        rr, cc = np.nonzero(sc > threshold)
        if keep and len(rr) > keep:   # the best windows of this level only
            top = np.argsort(-sc[rr, cc])[:keep]
            rr, cc = rr[top], cc[top]
        for r, c in zip(rr, cc):
            box = (c * cell / s, r * cell / s, (c + n) * cell / s, (r + n) * cell / s)
            found.append((float(sc[r, c]), box, (s, r, c)))
    return found


def read(name):
    return cv2.imread(str(DATA / "scenes" / "images" / name), cv2.IMREAD_COLOR)


def train(args):
    boxes, split = load()
    rng = np.random.default_rng(0)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    names = sorted(split["train"])
    t0 = time.time()
    pos, neg = [], []
    for name in names:
        bgr = read(name)
        pos += positives(bgr, boxes[name], args, rng)
        # Random background windows at random pyramid levels.
        levels = [(s, Grid(im, args.cell, args.cells, args.color))
                  for s, im in pyramid(bgr, args.first, args.cells * args.cell)]
        for _ in range(args.random_neg):
            s, g = levels[rng.integers(len(levels))]
            if g.shape[0] <= 0 or g.shape[1] <= 0:
                continue
            r, c = rng.integers(g.shape[0]), rng.integers(g.shape[1])
            box = tuple(v * args.cell / s for v in (c, r, c + args.cells, r + args.cells))
            if far_from_faces(box, boxes[name]):
                neg.append(g.window(r, c))
    P, N = np.array([f for f, _ in pos], np.float32), np.array(neg, np.float32)
    labels = np.array([l for _, l in pos])
    groups = ({"face": labels == labels} if args.templates != "two" else
              {"mask": labels != "without_mask", "nomask": labels == "without_mask"})
    print(f"{len(P)} positives, {len(N)} random negatives, {time.time() - t0:.0f} s", flush=True)
    log = []
    for rnd in range(args.rounds + 1):
        t = time.time()
        ws, bs = [], []
        for name, sel in groups.items():
            X = np.vstack([P[sel], N])
            y = np.r_[np.ones(sel.sum()), np.zeros(len(N))]
            weight = np.ones(len(y))
            if args.templates == "balanced":   # unmasked faces weigh as much as masked ones in all
                for k in np.unique(labels):
                    share = (labels[sel] == k).mean()
                    weight[: sel.sum()][labels[sel] == k] = 1 / (len(np.unique(labels)) * share)
            svm = LinearSVC(C=args.C, dual=False, max_iter=2000).fit(X, y, sample_weight=weight)
            ws.append(svm.coef_[0].astype(np.float32))
            bs.append(float(svm.intercept_[0]))
        w, b = np.array(ws), np.array(bs, np.float32)
        print(f"round {rnd}: fit {len(P)}+{len(N)} in {time.time() - t:.0f} s", flush=True)
        np.savez(work / "template.npz", w=w, b=b, cell=args.cell, cells=args.cells, color=args.color,
                 first=args.first)
        if rnd == args.rounds:
            break
        t = time.time()
        hard = []
        for name in names:
            bgr = read(name)
            found = detect(bgr, w, b, args, -1.0, keep=200)
            found.sort(key=lambda f: -f[0])
            picked = 0
            levels = {}
            for score, box, (s, r, c) in found:
                if picked >= args.per_image:
                    break
                if far_from_faces(box, boxes[name]):
                    if s not in levels:
                        im = cv2.resize(bgr, (int(bgr.shape[1] * s), int(bgr.shape[0] * s)),
                                        interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
                        levels[s] = Grid(im, args.cell, args.cells, args.color)
                    hard.append(levels[s].window(r, c))
                    picked += 1
        print(f"  mined {len(hard)} hard negatives in {time.time() - t:.0f} s", flush=True)
        log.append({"round": rnd, "hard": len(hard)})
        if hard:
            N = np.vstack([N, np.array(hard, np.float32)])
    json.dump({"args": vars(args), "log": log, "pos": len(P), "neg": len(N)}, open(work / "train.json", "w"))


def evaluate(args):
    boxes, split = load()
    t = np.load(Path(args.work) / "template.npz")
    w, b = t["w"], t["b"]
    out = {}
    for part in args.split:
        dets = {}
        start = time.time()
        for name in sorted(split[part]):
            found = detect(read(name), w, b, args, args.low, keep=300)
            faces = merge_duplicates([Face(tuple(int(round(v)) for v in box), s) for s, box, _ in found])
            dets[name] = faces
        secs = time.time() - start
        rows = []
        for thr in np.arange(args.low, 2.0, 0.05):
            n, hit, false = Counter(), Counter(), 0
            for name, faces in dets.items():
                a, h, f = match([f for f in faces if f.score >= thr], boxes[name])
                n, hit, false = n + a, hit + h, false + f
            found = sum(hit.values())
            rows.append({"thr": round(float(thr), 3), "with": hit["with_mask"] / n["with_mask"],
                         "without": hit["without_mask"] / n["without_mask"],
                         "incorrect": hit["incorrect_mask"] / max(1, n["incorrect_mask"]),
                         "precision": found / max(1, found + false)})
        out[part] = rows
        print(f"{part}: {len(dets)} images in {secs:.0f} s")
        for r in rows[::2]:
            print("  thr {thr:+.2f}  with {with:.3f}  without {without:.3f}  incorrect {incorrect:.2f}  "
                  "precision {precision:.3f}".format(**r))
    json.dump(out, open(Path(args.work) / "eval.json", "w"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["train", "eval"])
    p.add_argument("--work", default="/tmp/dense")
    p.add_argument("--cell", type=int, default=6)
    p.add_argument("--cells", type=int, default=6)
    p.add_argument("--color", type=int, default=1)
    p.add_argument("--first", type=float, default=1.5, help="first pyramid scale (36/24 reaches 24-px faces)")
    p.add_argument("--min-side", type=float, default=20)
    p.add_argument("--random-neg", type=int, default=40)
    p.add_argument("--per-image", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--C", type=float, default=0.01)
    p.add_argument("--templates", choices=["one", "balanced", "two"], default="one")
    p.add_argument("--low", type=float, default=-1.0)
    p.add_argument("--split", nargs="+", default=["val"])
    args = p.parse_args()
    train(args) if args.what == "train" else evaluate(args)


if __name__ == "__main__":
    main()
