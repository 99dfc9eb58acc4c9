"""The candidate detectors end to end, as bench_detection.py counts: held-out scene photos,
400 held-out faces/ photos (alone and through the pipeline's later looks) and ms per 640x480
frame, one thread, beside dlib's stock detector and the shipped one of the time.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-pnet/candidates.py [/tmp/pnet/fv_union1.onnx]

Each candidate scans some of the templates (from -1.4) and the P-Net (p16s4.pt, from a smallest
face and a logit), leaves out P-Net boxes overlapping a template box at IoU >= 0.5, and keeps
what the given verifier (trained on both proposers, without close-ups) keeps at its own
threshold. About 20 minutes.
"""
import sys, time
from collections import Counter
sys.path.insert(0, "docs/studies/detector-pnet")
sys.path.insert(0, "benchmarks")
import cv2, numpy as np, torch
import pnet_common as P
import bench_detection as B
from maskhog.detect import Face, MaskHog, make_detector, merge_duplicates
from maskhog.io import read_image
from compare_baselines import letterbox
from maskhog.pipeline import MaskDetector
from maskhog.verify import CnnFaceVerifier
from pathlib import Path
cv2.setNumThreads(1); torch.set_num_threads(1)
NET = P.load_net("/tmp/pnet/re/p16s4.pt")
VER = CnnFaceVerifier(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pnet/fv_union1.onnx")

class Union(MaskHog):
    def __init__(self, templates, min_face=41, low=2.5, skip=0.5, **kw):
        self.TEMPLATES = templates
        super().__init__(proposals=False, **kw)
        self.verifier = VER
        self.pmin, self.low, self.skip = min_face, low, skip
    def propose(self, image, threshold):
        found = super().propose(image, threshold)
        if np.ndim(image) == 3 and self.low is not None:
            b, _ = P.scan(NET, image, threshold=self.low, min_face=self.pmin * 2 ** -self.upsample)
            if found and len(b) and self.skip:
                b = b[P.iou_matrix(b, np.array([f.box for f in found])).max(1) < self.skip]
            found += [Face(tuple(int(round(v)) for v in x), self.verifier.candidate_threshold) for x in b]
        return found

data = Path("/work/shared/data")
test, boxes, face_rows = B.splits(data)
images = {n: read_image(data / "scenes" / "images" / n) for n in test}
frames = [letterbox(im)[0] for im in images.values()]
rows = face_rows[:: max(1, len(face_rows) // 400)]
photos = [(r["label"], read_image(data / "faces" / r["file"])) for r in rows]
tot = Counter(l for l, _ in photos)
S, PT = ("face_fhog48_scenes.svm",), ("face_fhog48_scenes.svm", "face_fhog48_paste.svm")
dets = {"dlib": make_detector("dlib", upsample=0), "shipped before": make_detector("maskhog", proposals=False),
        "templates+fv_union1": Union(PT, low=None),
        "A scenes + P41@2.5": Union(S), "B scenes + P32@2.5": Union(S, 32), "C both + P41@2.5": Union(PT),
        "D scenes + P24@2.5": Union(S, 24)}
for name, det in dets.items():
    n, recall, precision = B.scene_figures(det.detect, images, boxes)
    seen = Counter(l for l, p in photos if det.detect(p))
    seenp = Counter(l for l, p in photos if MaskDetector(det).find_faces(p))
    ms = []
    for _ in range(3):
        t0 = time.perf_counter()
        for f in frames: det.detect(f)
        ms.append((time.perf_counter() - t0) * 1000 / len(frames))
    print(f"| {name} | {recall['with_mask']:.3f} | {recall['without_mask']:.3f} | {recall['incorrect_mask']:.2f} | {precision:.3f} | "
          f"{seen['with_mask']/tot['with_mask']:.3f}/{seenp['with_mask']/tot['with_mask']:.3f} | {seen['without_mask']/tot['without_mask']:.3f}/{seenp['without_mask']/tot['without_mask']:.3f} | {np.median(ms):.1f} |", flush=True)
