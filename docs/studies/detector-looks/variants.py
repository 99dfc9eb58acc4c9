"""Variants of the later looks, before they were changed: faces/ photos found and face-free
windows given a face, with the looks as they were, and looking again at the mirror image
when they find nothing; ``pose``: with dlib's pose templates in every look.

    cd /work/main && git worktree add /tmp/before b02cd88   # the looks before this study
    (cd /tmp/before && /work/main/.venv/bin/python setup.py build_ext --inplace)
    PYTHONPATH=/tmp/before .venv/bin/python docs/studies/detector-looks/variants.py train|eval [pose]
"""
import os, sys, random
from collections import Counter
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "train"))
DATA = os.environ.setdefault("MASKHOG_DATA", "../shared/data")
import cv2, numpy as np
import detector_fhog
from maskhog.io import read_image
from maskhog.pipeline import MaskDetector
cv2.setNumThreads(1)
split = sys.argv[1]
train_rows, eval_rows = detector_fhog.split_faces()
src = train_rows if split == "train" else eval_rows
rows = src[:: max(1, len(src) // (600 if split == "train" else 2000))]
first = [(r["label"], read_image(f"{DATA}/faces/{r['file']}")) for r in rows]
train, val, test = detector_fhog.split_images()
boxes = detector_fhog.load_boxes()
rng = random.Random(0 if split == "train" else 1); negs = []
names = train[:300] if split == "train" else test
for name in names:
    img = read_image(f"{DATA}/scenes/images/{name}")
    H, W = img.shape[:2]
    for _ in range(20):
        s = rng.randint(60, min(H, W, 300)); x = rng.randint(0, W - s); y = rng.randint(0, H - s)
        if all(max(0, min(x + s, b[3]) - max(x, b[1])) * max(0, min(y + s, b[4]) - max(y, b[2])) == 0 for b in boxes[name]):
            negs.append(img[y:y + s, x:x + s].copy()); break
from maskhog.detect import make_detector
detector = make_detector("maskhog", pose=len(sys.argv) > 2 and sys.argv[2] == "pose")
for p in (0.05, 0.1, 0.2):
    pipe = MaskDetector(detector, looks_face_probability=p)
    def outcome(im):
        if pipe.find_faces(im): return 1
        if pipe.find_faces(cv2.flip(im, 1)): return 2
        return 0
    pos = [(l, outcome(im)) for l, im in first]
    neg = [outcome(n) for n in negs]
    total = Counter(l for l, _ in pos)
    for mode, ok in (("as now", (1,)), ("+ mirrored", (1, 2))):
        c = Counter(l for l, o in pos if o in ok)
        fp = sum(o in ok for o in neg)
        print(f"{split} pose={detector.pose} p={p} {mode}: " + ", ".join(f"{k} {c[k]}/{total[k]} = {c[k]/total[k]:.3f}" for k in sorted(total))
              + f"; face-free windows with a face {fp}/{len(neg)}", flush=True)
