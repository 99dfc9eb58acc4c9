"""Which face templates should propose faces to the CNN verifier? (docs/studies/detector-pose)

    PYTHONPATH=. python docs/studies/detector-pose/proposals.py val|test NAME=A.svm+B.svm [...]

For each set of dlib fHOG templates (the shipped pair is always measured, as
"shipped"), run together over the detector's held-out scene photos (the
split of train/detector_fhog.py: "val", 68 photos, or "test", 137) at
template thresholds -0.9 to -1.5, and print:

* proposals per photo, and the ceiling: the share of masked and unmasked faces
  of 24 px and more that some proposal overlaps at IoU >= 0.4;
* the most faces (mean of masked and unmasked recall) the CNN face verifier
  can keep at precision >= 0.90, its threshold chosen on these photos
  themselves (an upper bound for comparing sets, not an operating point).

dlib's stock detector as a file: ``dlib.get_frontal_face_detector().save(path)``.
The figures in REPORT.md were made with the verifier shipped before this study
(``git show 1e45dc8:maskhog/models/face_verifier.onnx``).
"""
import sys
from collections import Counter
from pathlib import Path

import cv2
import dlib
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "train"))
import detector_fhog  # noqa: E402

from maskhog.crops import crop_faces  # noqa: E402
from maskhog.detect import _faces, _gray_within, make_detector, merge_duplicates  # noqa: E402
from maskhog.detector_training import match_faces  # noqa: E402
from maskhog.io import read_image  # noqa: E402

cv2.setNumThreads(1)
DATA = ROOT.parent / "shared" / "data"
MODELS = ROOT / "maskhog" / "models"


def main():
    split = sys.argv[1]
    _, val, test = detector_fhog.split_images()
    boxes = detector_fhog.load_boxes()
    images = {n: read_image(DATA / "scenes" / "images" / n) for n in (val if split == "val" else test)}
    verifier = make_detector("maskhog").verifier
    sets = {"shipped": [MODELS / "face_fhog48_scenes.svm", MODELS / "face_fhog48_paste.svm"]}
    for arg in sys.argv[2:]:
        name, paths = arg.split("=")
        sets[name] = paths.split("+")
    for name, paths in sets.items():
        templates = [dlib.fhog_object_detector(str(p)) for p in paths]
        props, probs = {}, {}
        for n, image in images.items():
            gray, f = _gray_within(image)
            rects, scores, _ = dlib.fhog_object_detector.run_multiple(templates, gray, 0, -1.5)
            props[n] = _faces(rects, scores, f)
            crops = crop_faces(image, [p.box for p in props[n]], verifier.crop)
            probs[n] = verifier.net.classify_crops(crops)[:, 1] if props[n] else np.zeros(0)
        for t in (-0.9, -1.1, -1.3, -1.5):
            n_, hit, count = Counter(), Counter(), 0
            for n in images:
                kept = [p for p in props[n] if p.score >= t]
                count += len(kept)
                a, b, _ = match_faces(kept, boxes[n])
                n_, hit = n_ + a, hit + b
            ceiling = [round(hit[c] / n_[c], 3) for c in ("with_mask", "without_mask")]
            best = None
            for vt in np.linspace(0.05, 0.99, 95):
                n_, hit, false = Counter(), Counter(), 0
                for n in images:
                    kept = [p for p, q in zip(props[n], probs[n]) if p.score >= t and q >= vt]
                    a, b, c = match_faces(merge_duplicates(kept), boxes[n])
                    n_, hit, false = n_ + a, hit + b, false + c
                found = sum(hit.values())
                precision = found / max(1, found + false)
                r = [hit[c] / n_[c] for c in ("with_mask", "without_mask")]
                if precision >= 0.90 and (best is None or np.mean(r) > best[0]):
                    best = (round(float(np.mean(r)), 3), round(r[0], 3), round(r[1], 3), round(precision, 3))
            print(f"{split} {name} t {t}: {count / len(images):.1f} proposals a photo, ceiling "
                  f"{ceiling}; at precision >= 0.90 (mean, masked, unmasked, precision) {best}", flush=True)


if __name__ == "__main__":
    main()
