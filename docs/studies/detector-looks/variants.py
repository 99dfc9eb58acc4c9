"""Variants of the later looks, before they were changed: faces/ photos found and face-free
windows given a face, with the looks as they were, and looking again at the mirror image
when they find nothing; ``pose``: with dlib's pose templates in every look.

    cd /work/main && git worktree add /tmp/before b02cd88   # the looks before this study
    (cd /tmp/before && /work/main/.venv/bin/python setup.py build_ext --inplace)
    PYTHONPATH=/tmp/before .venv/bin/python docs/studies/detector-looks/variants.py train|eval [pose]
"""
import sys
from collections import Counter
import cv2
from maskhog.pipeline import MaskDetector
from photos import photos_and_windows
cv2.setNumThreads(1)
split = sys.argv[1]
first, negs = photos_and_windows(split)
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
