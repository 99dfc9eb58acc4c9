"""The mirror image on the held-out scene photos: what the templates propose (any proposal at
IoU >= 0.4 with a face of 24 px or more), and what the CNN verifier keeps.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-looks/mirror_scenes.py
"""
import sys, os
from collections import Counter
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "benchmarks"))
import bench_detection as B
import cv2
from pathlib import Path
from maskhog.detect import MaskHog, Face, merge_duplicates
from maskhog.detector_training import match_faces
from maskhog.io import read_image
cv2.setNumThreads(1)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
test, boxes, _ = B.splits(data)
det = MaskHog()
for thr in (-1.4, -0.9):
    tot = {k: Counter() for k in ("plain", "mirror", "both", "verified", "verified+mirror")}
    for name in test:
        im = read_image(data / "scenes" / "images" / name)
        w = im.shape[1]
        a = det.propose(im, thr)
        m = [Face((w - f.box[2], f.box[1], w - f.box[0], f.box[3]), f.score) for f in det.propose(cv2.flip(im, 1), thr)]
        for key, found in (("plain", a), ("mirror", m), ("both", a + m)):
            n, hit, false = match_faces(found, boxes[name])
            tot[key]["n_" + "m"] += 0
            for c in n: tot[key]["n_" + c] += n[c]; tot[key]["h_" + c] += hit[c]
            tot[key]["props"] += len(found)
        if thr == -1.4:
            v = merge_duplicates(det.verifier.keep(im, a, det.threshold))
            vm = merge_duplicates(det.verifier.keep(im, a + m, det.threshold))
            for key, found in (("verified", v), ("verified+mirror", vm)):
                n, hit, false = match_faces(found, boxes[name])
                for c in n: tot[key]["n_" + c] += n[c]; tot[key]["h_" + c] += hit[c]
                tot[key]["false"] += false; tot[key]["props"] += len(found)
    for key, t in tot.items():
        if not t: continue
        r = {c: round(t["h_" + c] / max(1, t["n_" + c]), 3) for c in ("with_mask", "without_mask", "incorrect_mask")}
        hits = sum(t["h_" + c] for c in ("with_mask", "without_mask", "incorrect_mask"))
        print(thr, key, r, "props/photo", round(t["props"] / len(test), 1), "precision", round(hits / max(1, hits + t["false"]), 3) if t["false"] or key.startswith("verified") else "")
