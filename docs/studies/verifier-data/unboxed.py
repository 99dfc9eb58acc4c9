"""Which background proposals of the verifier's own training photos does it keep anyway?

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/verifier-data/unboxed.py WORK [maskhog/models/face_verifier.onnx]

The shipped templates propose from -1.4 in the four fifths of the detector recipe's training
photos that the verifier learns from, each as it is and enlarged 1.5x (as the recipe does).
Proposals overlapping no annotated face at IoU 0.25 are background to the recipe; those the
verifier keeps by its score rule are drawn, with half a box of context on each side, in
``WORK/unboxed_K.png`` (50 a sheet, numbered) and listed in ``WORK/unboxed.csv``.
"""
import csv
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import crop_faces
from maskhog.detect import MaskHog
from maskhog.detector_training import _proposals, _split_scenes
from maskhog.verify import CnnFaceVerifier

cv2.setNumThreads(2)
work = Path(sys.argv[1])
work.mkdir(parents=True, exist_ok=True)
verifier = CnnFaceVerifier(sys.argv[2] if len(sys.argv) > 2 else "maskhog/models/face_verifier.onnx")
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (train, val, test) = _split_scenes([data / "scenes"], 0)
photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
learnt = [p for k, p in enumerate(train + val) if k % 5 != 0]   # the recipe's held_out = 0
rows = _proposals(learnt, photos, MaskHog(verifier=False), -1.4, None, None, (1.0, 1.5),
                  describe=lambda image, found: crop_faces(image, [f.box for f in found], verifier.crop))
kept, background = [], 0
for r in rows:
    if r["X"] is None:
        continue
    score = verifier.face_scores(r["X"], [f.score for f in r["faces"]])
    is_background = r["iou"] < 0.25
    background += int(is_background.sum())
    for i in np.flatnonzero(is_background & (score >= verifier.score_threshold)):
        kept.append((learnt[r["photo"]], r["scale"], tuple(int(round(v)) for v in r["faces"][i].box), float(score[i])))
print(f"{len(learnt)} photos, both scales: {background} background proposals, {len(kept)} kept by the verifier "
      f"({len({k[0] for k in kept})} photos)")

with open(work / "unboxed.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(["number", "photo", "scale", "x1", "y1", "x2", "y2", "score"])
    for k, (path, scale, box, score) in enumerate(kept):
        out.writerow([k, Path(path).name, scale, *box, round(score, 3)])
tiles = []
for k, (path, _, (x1, y1, x2, y2), _) in enumerate(kept):
    image, w = cv2.imread(str(path)), x2 - x1
    padded = cv2.copyMakeBorder(image, w, w, w, w, cv2.BORDER_CONSTANT)   # the box moves by w
    m = w // 2   # half a box of context on each side
    tile = cv2.resize(padded[y1 + w - m:y2 + w + m, x1 + w - m:x2 + w + m], (96, 96))
    cv2.rectangle(tile, (24, 24), (72, 72), (0, 255, 0), 1)
    cv2.putText(tile, str(k), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    tiles.append(tile)
for s in range(0, len(tiles), 50):
    sheet = tiles[s:s + 50]
    sheet += [np.zeros((96, 96, 3), np.uint8)] * (-len(sheet) % 10)
    cv2.imwrite(str(work / f"unboxed_{s // 50}.png"), np.vstack([np.hstack(sheet[i:i + 10]) for i in range(0, len(sheet), 10)]))
