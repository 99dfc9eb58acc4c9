"""Time per 640x480 frame of the detector with both proposers, against the shipped detector
and dlib's stock one, in one run on one thread.

    cd /work/main && PYTHONPATH=.:docs/studies/detector-pnet .venv/bin/python \
        docs/studies/detector-pnet/speed.py /tmp/pnet/re/p16s4.pt /tmp/pnet/fv_union.onnx

Twelve test photos resized to 640x480; each detector runs over all of them 5 times, and the
median pass is reported. "Both proposers": the templates from -1.4 and the P-Net from logit
1.5 (or the third argument; a fourth leaves out the P-Net's boxes that overlap a template box at
that IoU), every crop (and, near the threshold, its mirror image) scored by the given verifier,
kept at its score threshold and merged, as ``MaskHog.detect`` does for the templates.
"""
import sys
import time

import cv2
import dlib
import numpy as np
import torch

from maskhog.crops import crop_faces
from maskhog.detect import Face, MaskHog, merge_duplicates
from maskhog.io import read_image
from maskhog.verify import CnnFaceVerifier

import pnet_common as P

cv2.setNumThreads(1)
torch.set_num_threads(1)
net, verifier = P.load_net(sys.argv[1]), CnnFaceVerifier(sys.argv[2])
low = float(sys.argv[3]) if len(sys.argv) > 3 else 1.5   # the P-Net's logit threshold
# Fourth argument: skip P-Net boxes that overlap a template box at this IoU (their face is proposed).
skip = float(sys.argv[4]) if len(sys.argv) > 4 else None
_, _, _, test = P.split()
frames = [cv2.resize(read_image(p), (640, 480), interpolation=cv2.INTER_AREA) for p in test[:12]]
templates, shipped, stock = MaskHog(verifier=False), MaskHog(), dlib.get_frontal_face_detector()


def both(frame):
    found = templates.propose(frame, -1.4)
    boxes, _ = P.scan(net, frame, threshold=low)
    if skip is not None and found and len(boxes):
        boxes = boxes[P.iou_matrix(boxes, np.array([f.box for f in found])).max(axis=1) < skip]
    found += [Face(tuple(int(round(v)) for v in b), -1.4) for b in boxes]
    if not found:
        return []
    crops = crop_faces(frame, [f.box for f in found], verifier.crop)
    score = verifier.face_scores(crops, [f.score for f in found])
    return merge_duplicates([Face(f.box, float(s)) for f, s in zip(found, score) if s >= verifier.score_threshold])


def gray_stock(frame):
    return stock(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 0)


def per_frame(detect):
    passes = []
    for _ in range(5):
        start = time.perf_counter()
        for frame in frames:
            detect(frame)
        passes.append(1000 * (time.perf_counter() - start) / len(frames))
    return float(np.median(passes))


times = {name: per_frame(f) for name, f in (("dlib stock", gray_stock), ("shipped", shipped.detect),
                                             ("both proposers", both), ("dlib stock, again", gray_stock))}
dlib_ms = (times["dlib stock"] + times["dlib stock, again"]) / 2
for name, ms in times.items():
    print(f"{name}: {ms:.1f} ms a frame, {ms / dlib_ms:.2f}x dlib")
