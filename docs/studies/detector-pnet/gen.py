"""Make the P-Net training samples from the `learn` scene photos.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/gen.py --work /tmp/pnet --pos 6 --part 3 --near 3 --neg 30 --bare 3

Writes WORK/samples.npz: colour windows at 12 and 16 px (x12, x16, uint8 BGR), kind (1 face:
IoU >= 0.65 with the squared face box; 2 part face: 0.4-0.65, regression only; 0 background:
< 0.3 with every face), and reg: the face box's (x1, y1, x2, y2) offsets from the window's
corners, in window sides (zero for background). Deterministic (seed 0, one stream per photo).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pnet_common import iou_matrix, split  # noqa: E402

from maskhog.io import read_image  # noqa: E402


def square(box):
    x1, y1, x2, y2 = box
    s = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2], float)


def crop(img, sq, sizes=(12, 16)):
    """The square (x1, y1, x2, y2) cut from img (gray where it leaves the image), at each size."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = [int(round(v)) for v in sq]
    pad = max(0, -x1, -y1, x2 - w, y2 - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        x1, y1, x2, y2 = x1 + pad, y1 + pad, x2 + pad, y2 + pad
    patch = img[y1:y2, x1:x2]
    out = []
    for s in sizes:
        interp = cv2.INTER_AREA if patch.shape[0] > s else cv2.INTER_LINEAR
        out.append(cv2.resize(patch, (s, s), interpolation=interp))
    return out, (x1 - pad, y1 - pad, x2 - pad, y2 - pad)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pos", type=int, default=3, help="jittered face windows per face")
    ap.add_argument("--part", type=int, default=2, help="part-face windows per face")
    ap.add_argument("--near", type=int, default=2, help="background windows beside each face")
    ap.add_argument("--neg", type=int, default=30, help="random background windows per photo")
    ap.add_argument("--bare", type=int, default=1, help="times as many face / part windows for faces without a mask")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    cv2.setNumThreads(1)
    boxed, learn, held, test = split()
    x12, x16, kind, reg = [], [], [], []
    start = time.time()

    def add(img, sq, k, box):
        (p12, p16), (cx1, cy1, cx2, cy2) = crop(img, sq)
        s = cx2 - cx1
        if s < 12:
            return
        x12.append(p12); x16.append(p16); kind.append(k)
        if box is None:
            reg.append((0, 0, 0, 0))
        else:
            reg.append(((box[0] - cx1) / s, (box[1] - cy1) / s, (box[2] - cx2) / s, (box[3] - cy2) / s))

    for pi, path in enumerate(learn):
        rng = np.random.default_rng([a.seed, pi])
        img = read_image(path)
        h, w = img.shape[:2]
        faces = boxed[path]
        boxes = np.array([b for _, b in faces], float)
        squares = np.array([square(b) for b in boxes])
        for (label, _), box, sq in zip(faces, boxes, squares):
            s = sq[2] - sq[0]
            if s < 12:
                continue
            cx, cy = (sq[0] + sq[2]) / 2, (sq[1] + sq[3]) / 2
            m = a.bare if label == "without_mask" else 1
            want = {1: a.pos * m, 2: a.part * m, 0: a.near}
            for _ in range(60 * m):
                if not any(want.values()):
                    break
                k = rng.choice([k for k, n in want.items() if n])
                if k == 1:
                    js, jx = rng.uniform(0.85, 1.2), rng.uniform(-0.12, 0.12, 2)
                elif k == 2:
                    js, jx = rng.uniform(0.75, 1.4), rng.uniform(-0.3, 0.3, 2)
                else:
                    js, jx = rng.uniform(0.7, 1.5), rng.uniform(-1.0, 1.0, 2)
                ns = max(12.0, s * js)
                ncx, ncy = cx + jx[0] * s, cy + jx[1] * s
                c = np.array([ncx - ns / 2, ncy - ns / 2, ncx + ns / 2, ncy + ns / 2])
                if k == 0 and (c[0] < 0 or c[1] < 0 or c[2] > w or c[3] > h):
                    continue
                o = iou_matrix(c[None], squares)[0]
                best = o.max()
                got = 1 if best >= 0.65 else 2 if best >= 0.4 else 0 if best < 0.3 else None
                if got != k:
                    continue
                want[k] -= 1
                add(img, c, k, None if k == 0 else boxes[int(o.argmax())])
        # random background squares, log-uniform sides from 12 px to half the shorter side
        got = 0
        for _ in range(a.neg * 10):
            if got >= a.neg:
                break
            ns = float(np.exp(rng.uniform(np.log(12), np.log(max(13, min(h, w) / 2)))))
            x1, y1 = rng.uniform(0, w - ns), rng.uniform(0, h - ns)
            c = np.array([x1, y1, x1 + ns, y1 + ns])
            if iou_matrix(c[None], squares).max() >= 0.3 or iou_matrix(c[None], boxes).max() >= 0.3:
                continue
            add(img, c, 0, None)
            got += 1
    kind = np.array(kind, np.int8)
    np.savez_compressed(work / "samples.npz", x12=np.array(x12), x16=np.array(x16), kind=kind,
                        reg=np.array(reg, np.float32))
    print(f"{len(learn)} photos: {(kind == 1).sum()} face, {(kind == 2).sum()} part, {(kind == 0).sum()} "
          f"background windows in {time.time() - start:.0f} s -> {work / 'samples.npz'}")


if __name__ == "__main__":
    main()
