"""The later looks as shipped (dlib's pose templates in them, then the mirror image) at
several face probabilities: faces/ photos found, face-free windows given a face.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-looks/looks.py train|eval 0.1,0.15,0.2
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
probs = [float(x) for x in sys.argv[2].split(",")]
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
for p in probs:
    pipe = MaskDetector(looks_face_probability=p)
    c = Counter(l for l, im in first if pipe.find_faces(im))
    total = Counter(l for l, _ in first)
    fp = sum(bool(pipe.find_faces(n)) for n in negs)
    print(f"{split} p={p}: " + ", ".join(f"{k} {c[k]}/{total[k]} = {c[k]/total[k]:.3f}" for k in sorted(total))
          + f"; face-free windows with a face {fp}/{len(negs)}", flush=True)
