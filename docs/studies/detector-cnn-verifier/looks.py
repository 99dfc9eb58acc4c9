"""After the study: the pipeline's framed looks with the CNN verifier at a lower threshold t.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-cnn-verifier/looks.py train|eval

For each t: the share of faces/ photos in which a face is found (about 600 of the
detector's training groups with ``train``, about 1,000 held-out ones with ``eval``), and
how many face-free windows (60-300 px, cut at random from training / test scene photos
where no annotated face overlaps) are given a face.
"""
import os, sys, random
from collections import Counter
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "train"))
DATA = os.environ.setdefault("MASKHOG_DATA", "../shared/data")
import cv2, numpy as np
import detector_fhog
from maskhog.io import read_image
from maskhog.pipeline import MaskDetector, LOOKS
from maskhog.detect import merge_duplicates
from maskhog.crops import crop_faces
cv2.setNumThreads(1)
split = sys.argv[1] if len(sys.argv) > 1 else "train"
train_rows, eval_rows = detector_fhog.split_faces()
src = train_rows if split == "train" else eval_rows
rows = src[:: max(1, len(src) // 600)]
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
pipe = MaskDetector(); det = pipe.detector; cnn = det.verifier
def profile(img):
    if pipe._search(img, 1.0):
        return np.inf
    longer = max(img.shape[:2]); best = -np.inf
    for side, border in LOOKS:
        f = min(1.0, side / longer)
        im = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f != 1 else img
        b = int(round(border * round(longer * f)))
        im = cv2.copyMakeBorder(im, b, b, b, b, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        found = merge_duplicates(det.propose(im, det.threshold))
        if found:
            p = cnn.net.classify_crops(crop_faces(im, [x.box for x in found], cnn.crop))[:, 1]
            best = max(best, float(p.max()))
    return best
pos = [(l, profile(im)) for l, im in first]
neg = [profile(n) for n in negs]
total = Counter(l for l, _ in pos)
print(split, "faces/ photos", dict(total), "face-free windows", len(neg))
for t in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, cnn.threshold):
    c = Counter(l for l, p in pos if p >= t and p > -np.inf)
    fp = sum(p >= t and p > -np.inf for p in neg)
    print(f"t={t:.3f}: found " + ", ".join(f"{k} {c[k]}/{total[k]} = {c[k]/total[k]:.3f}" for k in sorted(total))
          + f"; face-free with a face {fp}/{len(neg)}", flush=True)
