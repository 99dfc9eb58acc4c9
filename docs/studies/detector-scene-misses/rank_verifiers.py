"""How well CNN face verifiers rank the same proposals, whatever threshold each run picked.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-scene-misses/rank_verifiers.py shipped=maskhog/models/face_verifier.onnx \
        other=/tmp/crops/m64/face_verifier.onnx [--scales 1.0,1.5]

The shipped templates propose from -1.4 in the recipe's 137 test photos and in the held-out
fifth of its training photos (the one that picks each run's epoch and threshold), each photo
as it is and enlarged 1.5x. Each verifier gives every proposal a face probability on its own
crop; then, per verifier, photo set and scale, the threshold is chosen on those photos
themselves: the most faces (mean recall of masked and unmasked, faces >= 24 px, IoU >= 0.4) at
precision >= 0.88 / 0.90 / 0.92 / 0.94. A verifier's own threshold lands somewhere near one
of these; the figures compare how well the networks rank, without the noise of that choice.
"""
import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import crop_faces
from maskhog.detect import MaskHog
from maskhog.detector_training import _best_threshold, _proposals, _split_scenes
from maskhog.verify import CnnFaceVerifier

parser = argparse.ArgumentParser()
parser.add_argument("verifiers", nargs="+", help="NAME=PATH of face_verifier.onnx files")
parser.add_argument("--scales", default="1.0,1.5")
parser.add_argument("--out", type=Path)
args = parser.parse_args()
cv2.setNumThreads(2)
verifiers = {n: CnnFaceVerifier(p) for n, p in (v.split("=", 1) for v in args.verifiers)}
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
boxed, (train, val, test) = _split_scenes([data / "scenes"], 0)
photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
held = (train + val)[::5]   # photo % 5 == 0: the recipe's held-out fifth
proposer = MaskHog(verifier=False)
out = {}
for scale in (float(s) for s in args.scales.split(",")):
    for part, paths in (("test", test), ("held-out fifth", held)):
        rows = _proposals(paths, photos, proposer, -1.4, None, None, (scale,),
                          describe=lambda image, found: (image, [f.box for f in found]))
        for name, v in verifiers.items():
            logits = []
            for r in rows:
                if r["X"] is None:
                    logits.append(np.zeros(0))
                    continue
                image, boxes = r["X"]
                p = np.clip(v.net.classify_crops(crop_faces(image, boxes, v.crop))[:, 1], 1e-9, 1 - 1e-9)
                logits.append(np.log(p / (1 - p)).astype(np.float64))
            figures = {}
            for precision in (0.88, 0.90, 0.92, 0.94):
                best = _best_threshold(rows, logits, {"min_precision": precision, "min_side": 24})
                figures[precision] = None if best is None else {
                    "mean": round(best[0], 4), "masked": best[2]["recall_with_mask"],
                    "unmasked": best[2]["recall_without_mask"], "precision": best[2]["precision"]}
            out.setdefault(name, {}).setdefault(part, {})[scale] = figures
            shown = ", ".join(f"{k}: {f['masked']:.3f} / {f['unmasked']:.3f} at {f['precision']:.3f}"
                              for k, f in figures.items() if f)
            print(f"{part}, {scale}x, {name}: {shown}", flush=True)
if args.out:
    args.out.write_text(json.dumps(out, indent=1) + "\n")
