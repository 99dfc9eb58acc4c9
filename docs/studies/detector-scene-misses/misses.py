"""Where the shipped detector loses held-out scene faces: never proposed, or proposed and
rejected by the face verifier; by face size; and what the 2x-enlarged pyramid adds.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-scene-misses/misses.py

Proposals: the templates from -1.4 (as the shipped verifier sees them), on each test photo
as it is ("native") and enlarged 2x (``upsample=1``, "2x"). A face (>= 24 px) counts as
proposed or found at IoU >= 0.4, as in ``benchmarks/bench_detection.py``.
"""
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import bench_detection as B   # noqa: E402

from maskhog.crops import crop_faces   # noqa: E402
from maskhog.detect import Face, MaskHog, box_iou, merge_duplicates   # noqa: E402
from maskhog.detector_training import match_faces   # noqa: E402
from maskhog.io import read_image   # noqa: E402

cv2.setNumThreads(1)
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
test, boxes, _ = B.splits(data)
native, enlarged = MaskHog(), MaskHog(upsample=1)
verifier = native.verifier
SIZES = (24, 32, 41, 56, 80, 120)

rows = []   # per photo: name, [(source, proposal)], face probability of each
for name in test:
    image = read_image(data / "scenes" / "images" / name)
    props = [(src, f) for src, d in (("native", native), ("2x", enlarged)) for f in d.propose(image, -1.4)]
    crops = crop_faces(image, [f.box for _, f in props], verifier.crop)
    rows.append((name, props, verifier.net.classify_crops(crops)[:, 1] if props else np.zeros(0)))


def best_iou(faces, box):
    return max([box_iou(f.box, box) for f in faces] + [0.0])


# What the verifier keeps at its threshold, per photo and scan, merged as the detector does.
t = verifier.threshold
kept_by = {name: {src: merge_duplicates([Face(f.box, float(q)) for (s, f), q in zip(props, p)
                                         if s == src and q >= t]) for src in ("native", "2x")}
           for name, props, p in rows}

# 1. Proposed and kept, by class and size.
stat = defaultdict(Counter)
for name, props, p in rows:
    by = {src: [f for s, f in props if s == src] for src in ("native", "2x")}
    kept = kept_by[name]
    for label, *box in boxes[name]:
        side = min(box[2] - box[0], box[3] - box[1])
        if side < 24:
            continue
        k = (label, max(s for s in SIZES if side >= s))
        stat[k]["faces"] += 1
        for src in ("native", "2x"):
            stat[k]["proposed " + src] += best_iou(by[src], box) >= 0.4
            stat[k]["kept " + src] += best_iou(kept[src], box) >= 0.4
        stat[k]["proposed either"] += max(best_iou(by["native"], box), best_iou(by["2x"], box)) >= 0.4
cols = ("proposed native", "proposed 2x", "proposed either", "kept native", "kept 2x")
print("| class | face side from (px) | faces | " + " | ".join(cols) + " |")
total = defaultdict(Counter)
for k in sorted(stat):
    s = stat[k]
    total[k[0]].update(s)
    print(f"| {k[0]} | {k[1]} | {s['faces']} | " + " | ".join(f"{s[c] / s['faces']:.2f}" for c in cols) + " |")
for label, s in total.items():
    print(f"| {label} | all | {s['faces']} | " + " | ".join(f"{s[c] / s['faces']:.3f}" for c in cols) + " |")


# 2. Recall at precision: the verifier's probability (plus a * the template score, in logits).
def sweep(sources, a=0.0):
    best = None
    for thr in np.arange(-2, 6, 0.1):
        n, hit, false = Counter(), Counter(), 0
        for name, props, p in rows:
            logit = np.log(np.clip(p, 1e-6, 1) / np.clip(1 - p, 1e-6, 1))
            faces = [Face(f.box, float(z + a * f.score)) for (s, f), z in zip(props, logit) if s in sources]
            x, y, z = match_faces(merge_duplicates([f for f in faces if f.score >= thr]), boxes[name])
            n, hit, false = n + x, hit + y, false + z
        found = sum(hit.values())
        precision = found / max(1, found + false)
        r = (hit["with_mask"] / n["with_mask"], hit["without_mask"] / n["without_mask"])
        if precision >= 0.9 and (best is None or sum(r) > sum(best[1])):
            best = (round(float(thr), 1), tuple(round(v, 3) for v in r), round(precision, 3))
    return best


print("\nmost faces (masked + unmasked recall) at precision >= 0.90 on these photos (chosen on them: a ceiling)")
for sources in (("native",), ("native", "2x")):
    for a in (0.0, 1.0, 2.0):
        print(sources, "template weight", a, "-> threshold, (masked, unmasked), precision:", sweep(sources, a))

# 3. Why faces are missed at the shipped threshold, and what the false detections are.
missed, false, far = Counter(), Counter(), {}
for name, props, p in rows:
    kept = kept_by[name]["native"]
    for label, *box in boxes[name]:
        if min(box[2] - box[0], box[3] - box[1]) < 24 or best_iou(kept, box) >= 0.4:
            continue
        near = [q for (s, f), q in zip(props, p) if s == "native" and box_iou(f.box, box) >= 0.4]
        missed[(label, "not proposed" if not near else "p < 0.1" if max(near) < 0.1
                else "p < 0.5" if max(near) < 0.5 else "p < threshold")] += 1
    for k in kept:
        m = best_iou([Face(tuple(b), 0) for _, *b in boxes[name]], k.box)
        if m < 0.4:
            false["IoU < 0.1 with any boxed face" if m < 0.1 else "IoU 0.1-0.4 with a boxed face"] += 1
        if m < 0.1:
            far.setdefault(name, []).append(k)
print("\nmissed at the shipped threshold:", dict(sorted(missed.items())))
print("false detections:", dict(false))

# 4. The false detections far from any boxed face, each twice its box's size around it (the
# box in green, the face probability in red), for a person to look at: are they faces?
tiles = []
for name, faces in far.items():
    image = cv2.copyMakeBorder(read_image(data / "scenes" / "images" / name), 400, 400, 400, 400,
                               cv2.BORDER_CONSTANT)
    for k in faces:
        x1, y1, x2, y2 = (v + 400 for v in k.box)
        half = (x2 - x1) // 2
        tile = cv2.resize(image[y1 - half:y2 + half, x1 - half:x2 + half], (128, 128))
        cv2.rectangle(tile, (32, 32), (96, 96), (0, 255, 0), 1)
        cv2.putText(tile, f"{k.score:.2f}", (2, 12), 0, 0.4, (0, 0, 255), 1)
        tiles.append(tile)
n_far = len(tiles)
tiles += [np.zeros((128, 128, 3), np.uint8)] * (-len(tiles) % 8)
if tiles:
    out = Path(os.environ.get("MISSES_MONTAGE", "/tmp/false_detections.png"))
    cv2.imwrite(str(out), np.vstack([np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles), 8)]))
    print(f"{n_far} false detections far from any boxed face: {out}")
