"""Step 2: coverage at -0.9 on the 137 test photos: two templates vs three; and proposals per photo."""
import os
import sys, shutil
from collections import Counter
from pathlib import Path
import cv2, numpy as np
from maskhog.detect import MaskHog, box_iou
from maskhog.detector_training import _split_scenes
from maskhog.io import read_image
hard = Path(sys.argv[1])
folder = hard / "templates3"; folder.mkdir(exist_ok=True)
for t in MaskHog.TEMPLATES:
    shutil.copy(Path(__file__).resolve().parents[3] / "maskhog" / "models" / t, folder / t)
shutil.copy(hard / "face_fhog48_hard.svm", folder / "face_fhog48_hard.svm")
photos, (train, val, test) = _split_scenes([Path(os.environ.get("MASKHOG_DATA", "../shared/data")) / "scenes"], 0)
two = MaskHog(verifier=False)
class Three(MaskHog):
    TEMPLATES = MaskHog.TEMPLATES + ("face_fhog48_hard.svm",)
three = Three(folder=folder, verifier=False)
for scale in (1.0, 1.5):
    for name, det in (("two", two), ("three", three)):
        n, hit, props = Counter(), Counter(), []
        for p in test:
            img = read_image(p)
            im = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale)
            found = [tuple(v / scale for v in f.box) for f in det.propose(im, -0.9)]
            props.append(len(found))
            for label, box in photos[p]:
                if min(box[2] - box[0], box[3] - box[1]) < 24: continue
                n[label] += 1
                hit[label] += any(box_iou(f, box) >= 0.4 for f in found)
        print(f"scale {scale} {name}: " + ", ".join(f"{c} {hit[c]}/{n[c]} = {hit[c]/n[c]:.2f}" for c in n)
              + f"; proposals per photo {np.mean(props):.1f}", flush=True)
