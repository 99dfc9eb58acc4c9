"""Single-thread ms per 640x480 frame, all detectors on the same 40 frames (first 40 test images
resized to 640x480). Run on an otherwise idle machine."""
import sys, os, time, json, cv2, numpy as np, dlib
sys.argv = [sys.argv[0]] + sys.argv[1:]
from eval_detector import split_images, FhogDet, StockDlib, AizooSSD, DATA
cv2.setNumThreads(1)
train, val, test = split_images()
bgr = [cv2.resize(cv2.imread(os.path.join(DATA, 'scenes/images', n)), (640, 480), interpolation=cv2.INTER_AREA) for n in test[:40]]
gray = [cv2.cvtColor(b, cv2.COLOR_BGR2GRAY) for b in bgr]
haar = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, 'haarcascade_frontalface_default.xml'))
dets = {'dlib_up0': (StockDlib(0), gray, 0.0), 'dlib_up1': (StockDlib(1), gray, 0.0),
        'haar': (lambda im, t: haar.detectMultiScale(im, 1.1, 5), gray, None),
        'ssd': (AizooSSD(), bgr, 0.5)}
for spec in sys.argv[1:]:
    path, sc = spec.split('@')
    dets[f'{path}@{sc}'] = (FhogDet(path.split('+'), scale=float(sc)), gray, 0.0)
out = {}
for k, (d, frames, thr) in dets.items():
    d(frames[0], thr)
    ts = []
    for _ in range(3):
        for f in frames:
            t = time.perf_counter(); d(f, thr); ts.append(time.perf_counter() - t)
    out[k] = round(1000 * float(np.median(ts)), 2)
    print(k, out[k], flush=True)
json.dump(out, open('results/timing.json', 'w'), indent=1)
