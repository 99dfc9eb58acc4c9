"""Step 4 of the CNN-verifier study: what a verifier costs per 640x480 frame, on one thread.

    cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-cnn-verifier/cost.py [--work /tmp/cnnver]

Needs ``train_cnn.py`` first (``verifier.onnx``). Each of the 137 test photos
is resized to the area of a 640x480 frame (aspect kept), and also enlarged
1.5x from there (as ``--min-face`` searches small faces). Per frame:

* the templates' proposals at -0.9 (the verifier's candidate threshold):
  count and time of ``MaskHog.propose``;
* the shipped SVM verifier: ``describe_proposals`` (crop, HOG + LBP + colour
  cues) and the dot product, timed;
* the CNN: ``crop_faces`` and one OpenCV DNN forward (``cv2.dnn.readNetFromONNX``,
  CPU backend, ``cv2.setNumThreads(1)``) of all the frame's proposals as one batch, timed.

Then ms per crop of the CNN at fixed batch sizes. Each timing is the
median of 3 repeats. Writes ``cost.json`` under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from maskhog import detector_training as dt  # noqa: E402
from maskhog.cnn import to_blob  # noqa: E402
from maskhog.crops import CropSpec, crop_faces  # noqa: E402
from maskhog.detect import MaskHog  # noqa: E402
from maskhog.io import read_image  # noqa: E402
from maskhog.verify import FaceVerifier  # noqa: E402

cv2.setNumThreads(1)
SCENES = Path(os.environ.get("MASKHOG_DATA", "/work/shared/data")) / "scenes"
SHIPPED = Path(__file__).resolve().parents[3] / "maskhog" / "models" / "face_verifier.npz"
CROP = CropSpec(64, 0.0, False, color=True)


def timed(fn, repeat=3):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times)) * 1000


def summary(v):
    v = np.asarray(v, float)
    return {"mean": round(float(v.mean()), 2), "median": round(float(np.median(v)), 2),
            "p95": round(float(np.percentile(v, 95)), 2), "max": round(float(v.max()), 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/cnnver"))
    args = ap.parse_args()
    _, (_, _, test) = dt._split_scenes([SCENES], 0)
    proposer = MaskHog(verifier=False)
    svm = FaceVerifier.load(SHIPPED)
    net = cv2.dnn.readNetFromONNX(str(args.work / "verifier.onnx"))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

    def cnn(crops):
        net.setInput(to_blob(crops), "crops")
        return net.forward()

    cnn(np.zeros((4, 64, 64, 3), np.uint8))   # warm up
    results = {}
    for enlarge in (1.0, 1.5):
        per = {k: [] for k in ("proposals", "proposals_at_-0.175", "propose_ms", "svm_ms", "cnn_crop_ms",
                               "cnn_forward_ms")}
        for path in test:
            photo = read_image(path)
            h, w = photo.shape[:2]
            f = np.sqrt(640 * 480 / (h * w)) * enlarge
            frame = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            found, ms = timed(lambda: proposer.propose(frame, -0.9))
            per["proposals"].append(len(found))
            per["proposals_at_-0.175"].append(sum(p.score >= -0.175 for p in found))
            per["propose_ms"].append(ms)
            if not found:
                for k in ("svm_ms", "cnn_crop_ms", "cnn_forward_ms"):
                    per[k].append(0.0)
                continue
            _, ms = timed(lambda: svm.decision_function(svm.describe(frame, found)))
            per["svm_ms"].append(ms)
            crops, ms = timed(lambda: crop_faces(frame, [p.box for p in found], CROP))
            per["cnn_crop_ms"].append(ms)
            _, ms = timed(lambda: cnn(crops))
            per["cnn_forward_ms"].append(ms)
        n = np.array(per["proposals"], float)
        key = f"{int(640 * enlarge)}x{int(480 * enlarge)}"
        results[key] = {k: summary(v) for k, v in per.items()}
        total = n.sum()
        results[key]["ms_per_proposal"] = {
            "svm": round(sum(per["svm_ms"]) / total, 3),
            "cnn_crop": round(sum(per["cnn_crop_ms"]) / total, 3),
            "cnn_forward": round(sum(per["cnn_forward_ms"]) / total, 3)}
        print(key, json.dumps(results[key]), flush=True)
    rng = np.random.default_rng(0)
    batch = {}
    for n in (1, 8, 16, 32, 64, 128):
        crops = rng.integers(0, 256, (n, 64, 64, 3), np.uint8)
        reps = max(3, 256 // n)
        _, ms = timed(lambda: [cnn(crops) for _ in range(reps)])
        batch[n] = round(ms / reps / n, 3)
    results["cnn_ms_per_crop_by_batch"] = batch
    results["opencv"] = cv2.__version__
    results["threads"] = cv2.getNumThreads()
    print("CNN ms per crop by batch size:", batch, "OpenCV", cv2.__version__, "threads", cv2.getNumThreads())
    (args.work / "cost.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
