"""A third fHOG template for the faces the shipped two miss (tried 2026-11-26: no gain).

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-fhog/hard_template.py /tmp/hard [C]
    PYTHONPATH=. .venv/bin/python docs/studies/detector-fhog/hard_template_eval.py /tmp/hard

1. In the templates' training photos, the faces (square side >= 28 px) that no
   proposal at -0.9 overlaps at IoU >= 0.4, at scale 1.0 or 1.5, are "hard".
2. Chips around the hard faces (other faces ignored) + context chips.
3. dlib trains a 48-px template on them (C, flips as the shipped ones).
"""
import os
import json, sys
from pathlib import Path
import cv2
from maskhog.detect import MaskHog, box_iou
from maskhog.detector_training import _split_scenes, scene_chips, square, train_template
from maskhog.io import read_image

work = Path(sys.argv[1]); work.mkdir(parents=True, exist_ok=True)
C = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
photos, (train, val, test) = _split_scenes([Path(os.environ.get("MASKHOG_DATA", "../shared/data")) / "scenes"], 0)
det = MaskHog(verifier=False)
relabelled, n_hard, n_all = {}, 0, 0
for p in train:
    img = read_image(p)
    found = []
    for s in (1.0, 1.5):
        im = img if s == 1 else cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        found += [tuple(v / s for v in f.box) for f in det.propose(im, -0.9)]
    faces = []
    for label, box in photos[p]:
        side = square(box)[2]
        hit = any(box_iou(f, box) >= 0.4 for f in found)
        hard = side >= 28 and not hit
        n_hard += hard; n_all += side >= 28
        faces.append(("hard" if hard else "found", box))
    relabelled[p] = faces
print(f"training photos {len(train)}: faces >= 28 px {n_all}, hard {n_hard}", flush=True)
entries = scene_chips(relabelled, 48, work, 0, ctx_side=400, classes=("hard",), copies=2)
print(f"chips {len(entries)}, positives {sum(len(e[1]) for e in entries)}", flush=True)
rec = train_template(entries, work / "face_fhog48_hard.svm", window=48, C=C, threads=1)
print(json.dumps(rec), flush=True)
