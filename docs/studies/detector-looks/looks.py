"""The later looks as shipped (dlib's pose templates in them, then the mirror image) at
several face probabilities: faces/ photos found, face-free windows given a face.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-looks/looks.py train|eval 0.1,0.15,0.2 [DIR]

DIR: a detector folder (templates and a face verifier) instead of the shipped one.
"""
import sys
from collections import Counter
import cv2
from maskhog.detect import MaskHog
from maskhog.pipeline import MaskDetector
from photos import photos_and_windows
cv2.setNumThreads(1)
split = sys.argv[1]
probs = [float(x) for x in sys.argv[2].split(",")]
folder = sys.argv[3] if len(sys.argv) > 3 else None
first, negs = photos_and_windows(split)
for p in probs:
    pipe = MaskDetector(MaskHog(folder=folder) if folder else None, looks_face_probability=p)
    c = Counter(l for l, im in first if pipe.find_faces(im))
    total = Counter(l for l, _ in first)
    fp = sum(bool(pipe.find_faces(n)) for n in negs)
    print(f"{split} p={p}: " + ", ".join(f"{k} {c[k]}/{total[k]} = {c[k]/total[k]:.3f}" for k in sorted(total))
          + f"; face-free windows with a face {fp}/{len(negs)}", flush=True)
