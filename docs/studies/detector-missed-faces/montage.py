"""Draw the held-out scene faces the shipped detector misses, and tally how far each was
from being found.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-missed-faces/montage.py --work /tmp/missed

On the detector recipe's 137 test photos (as they are, no enlarging), every masked or
unmasked face of 24 px and more that no kept detection overlaps at IoU >= 0.4 is either
*rejected* (a proposal from -1.4 overlaps it, and the verifier's score for the best of them
is under its threshold) or *unproposed* (none does). For each it writes one tile: the face
with some context, the annotated box green and the best proposal red, beside the 48-px crop
the verifier saw, with its score minus the threshold. For the unproposed ones it also looks
at what the templates give from -3.0. ``rejected.png``, ``unproposed.png`` and ``missed.csv``
go to ``--work``.
"""
import argparse
import csv
import os
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import crop_faces
from maskhog.detect import MaskHog, box_iou, merge_duplicates
from maskhog.detector_training import _split_scenes
from maskhog.io import read_image

cv2.setNumThreads(1)
parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True)
work = parser.parse_args().work
work.mkdir(parents=True, exist_ok=True)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (_, _, test) = _split_scenes([data / "scenes"], 0)
templates = MaskHog(verifier=False)
verifier = MaskHog().verifier
T = 96   # tile side


def tile(image, face, proposal, margin, label):
    """The face at 1.6x its side with both boxes, beside what the verifier saw."""
    x1, y1, x2, y2 = face
    cx, cy, f = (x1 + x2) / 2, (y1 + y2) / 2, T / (1.6 * max(x2 - x1, y2 - y1))
    M = np.float32([[f, 0, T / 2 - cx * f], [0, f, T / 2 - cy * f]])
    context = cv2.warpAffine(image, M, (T, T))

    def draw(box, colour):
        a = [int(round(v * f + T / 2 - c * f)) for v, c in zip(box, (cx, cy, cx, cy))]
        cv2.rectangle(context, a[:2], a[2:], colour, 1)

    draw(face, (0, 255, 0))
    seen = np.zeros((T, T, 3), np.uint8)
    if proposal is not None:
        draw(proposal, (0, 0, 255))
        seen = cv2.resize(crop_faces(image, [proposal], verifier.crop)[0], (T, T), interpolation=cv2.INTER_NEAREST)
        cv2.putText(seen, f"{margin:.1f}", (2, T - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    cv2.putText(context, label, (2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 0), 1)
    return np.hstack([context, seen])


rows, tiles = [], {"rejected": [], "unproposed": []}
for path in test:
    image = read_image(path)
    h, w = image.shape[:2]
    found = templates.propose(image, -1.4)
    margins = np.zeros(0)
    if found:
        crops = crop_faces(image, [f.box for f in found], verifier.crop)
        margins = verifier.face_scores(crops, [f.score for f in found]) - verifier.score_threshold
    kept = merge_duplicates(verifier.keep(image, found, templates.threshold))
    low = None
    for label, box in boxed[path]:
        side = min(box[2] - box[0], box[3] - box[1])
        if side < 24 or label == "incorrect_mask" or any(box_iou(f.box, box) >= 0.4 for f in kept):
            continue
        near = [k for k, f in enumerate(found) if box_iou(f.box, box) >= 0.4]
        edge = min(box[0], box[1], w - box[2], h - box[3]) / max(box[2] - box[0], box[3] - box[1])
        if near:
            best = max(near, key=lambda k: margins[k])
            status, proposal, margin, template = "rejected", found[best].box, float(margins[best]), found[best].score
        else:
            if low is None:
                low = templates.propose(image, -3.0)
            scores = [f.score for f in low if box_iou(f.box, box) >= 0.4]
            status, proposal, margin, template = "unproposed", None, None, max(scores, default=None)
        rows.append({"photo": Path(path).name, "label": label, "side": side, "edge": round(edge, 3),
                     "status": status, "margin": None if margin is None else round(margin, 2),
                     "template": None if template is None else round(template, 3)})
        tiles[status].append(tile(image, box, proposal, margin, f"{'M' if label == 'with_mask' else 'U'}{side}"))

with open(work / "missed.csv", "w", newline="") as fh:
    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
for status, found_tiles in tiles.items():
    found_tiles += [np.zeros_like(found_tiles[0])] * (-len(found_tiles) % 6)
    grid = np.vstack([np.hstack(found_tiles[i:i + 6]) for i in range(0, len(found_tiles), 6)])
    cv2.imwrite(str(work / f"{status}.png"), grid)

for label in ("with_mask", "without_mask"):
    mine = [r for r in rows if r["label"] == label]
    rejected = [r["margin"] for r in mine if r["status"] == "rejected"]
    unproposed = [r["template"] for r in mine if r["status"] == "unproposed"]
    print(f"{label}: {len(rejected)} rejected (within 1 of the threshold: {sum(m > -1 for m in rejected)}, "
          f"median {np.median(rejected):.2f}); {len(unproposed)} unproposed (template score from -3: "
          f"-2 or more {sum(s is not None and s >= -2 for s in unproposed)}, -3 to -2 "
          f"{sum(s is not None and s < -2 for s in unproposed)}, none {sum(s is None for s in unproposed)}; "
          f"at the image's edge (within 0.1 of the face's side) {sum(r['edge'] < 0.1 for r in mine if r['status'] == 'unproposed')}; "
          f"sides 24-40 px {sum(r['side'] < 41 for r in mine if r['status'] == 'unproposed')})")
