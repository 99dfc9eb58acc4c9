"""Would a border around each photo let the templates propose the faces at its edges?

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-missed-faces/edge.py

The templates' 48-px window must lie inside the image, so a face that touches the edge is
scanned only where the window still fits. Each photo of the detector recipe's test split
and of the held-out fifth of its training photos is framed by a border of 4% or 8% of its
shorter side (its edge pixels repeated, or mid gray), searched by the shipped detector, and
the boxes are moved back and cut to the photo. Figures as in the benchmark (faces >= 24 px,
IoU >= 0.4); ms per photo on one thread, from reading to boxes. ``--proposed`` prints only
how many test faces the templates propose (from -1.4, no border), by distance from the edge.
"""
import os
import sys
import time
from pathlib import Path

import cv2

from maskhog.detect import Face, MaskHog, box_iou
from maskhog.detector_training import _detection_figures, _split_scenes
from maskhog.io import read_image

cv2.setNumThreads(1)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (train, val, test) = _split_scenes([data / "scenes"], 0)
detector = MaskHog()
BORDERS = [("none", 0.0, None), ("edge 4%", 0.04, cv2.BORDER_REPLICATE), ("edge 8%", 0.08, cv2.BORDER_REPLICATE),
           ("gray 4%", 0.04, cv2.BORDER_CONSTANT), ("gray 8%", 0.08, cv2.BORDER_CONSTANT)]


def search(paths, share, kind):
    per_photo, seconds = [], 0.0
    for path in paths:
        image = read_image(path)
        h, w = image.shape[:2]
        start = time.perf_counter()
        m = int(round(share * min(h, w)))
        framed = cv2.copyMakeBorder(image, m, m, m, m, kind, value=(128, 128, 128)) if m else image
        faces = [Face((max(x1 - m, 0), max(y1 - m, 0), min(x2 - m, w), min(y2 - m, h)), f.score)
                 for f in detector.detect(framed) for x1, y1, x2, y2 in [f.box]]
        seconds += time.perf_counter() - start
        per_photo.append(([f for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) > 4],
                          [(label, *box) for label, box in boxed[path]]))
    return _detection_figures(per_photo, 24), 1000 * seconds / len(paths)


if "--proposed" in sys.argv:
    tally = {}
    for path in test:
        image = read_image(path)
        h, w = image.shape[:2]
        found = detector.propose(image, -1.4)
        for label, box in boxed[path]:
            if min(box[2] - box[0], box[3] - box[1]) < 24 or label == "incorrect_mask":
                continue
            edge = min(box[0], box[1], w - box[2], h - box[3]) / max(box[2] - box[0], box[3] - box[1])
            near = "within 0.1" if edge < 0.1 else "0.1-0.3" if edge < 0.3 else "over 0.3"
            t = tally.setdefault((label, near), [0, 0])
            t[0] += 1
            t[1] += any(box_iou(f.box, box) >= 0.4 for f in found)
    for (label, near), (n, hit) in sorted(tally.items()):
        print(f"{label}, {near} of the face's side from the edge: {hit} of {n} proposed")
    sys.exit()

print("| border | test: masked / unmasked / badly worn, precision | ms | held-out fifth | ms |")
print("|---|---|---|---|---|")
for name, share, kind in BORDERS:
    cells = []
    for paths in (test, (train + val)[::5]):
        f, ms = search(paths, share, kind)
        cells += [f"{f['recall_with_mask']:.3f} / {f['recall_without_mask']:.3f} / "
                  f"{f['recall_incorrect_mask']:.2f}, {f['precision']:.3f}", f"{ms:.1f}"]
    print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
