#!/usr/bin/env python
"""Evaluate face detectors on held-out scenes images (and faces/ images) for maskhog.

Self-contained. Detectors:
  svm:PATH[+PATH...]   our dlib FHOG detector(s) (several are run together with
                       dlib.fhog_object_detector.run_multiple, one shared HOG pyramid)
  dlib0 / dlib1        stock dlib frontal detector, upsample 0 / 1
  haar                 OpenCV haarcascade_frontalface_default (scaleFactor 1.1, minNeighbors 5)
  ssd                  AIZOO SSD (Caffe via cv2.dnn; comparison only)

Protocol: same image split as train_detector.py (seed 0: 20% test, 10% val, 70%
train). Ground truth faces count if their shorter side >= 24 px (original
image); smaller faces are "don't care" (a detection on them is neither TP nor
FP). Greedy matching by score at IoU >= 0.4 against the original boxes.
The score threshold is picked on the val split (highest threshold... see
pick_threshold) and then applied to the test split.
Timing: the first 40 test images resized to 640x480, gray (colour for ssd),
single thread, median ms per frame including any resize done by the detector.
"""
import argparse, csv, json, os, time
from collections import defaultdict
import numpy as np
import cv2
import dlib

DATA = os.environ.get('MASKHOG_DATA', '../shared/data')
LABELS = ('with_mask', 'without_mask', 'incorrect_mask')


def split_images(seed=0, test_frac=0.2, val_frac=0.1):
    names = sorted({r['image'] for r in csv.DictReader(open(os.path.join(DATA, 'scenes/boxes.csv')))})
    rng = np.random.default_rng(seed)
    perm = [names[i] for i in rng.permutation(len(names))]
    nt, nv = int(round(test_frac * len(names))), int(round(val_frac * len(names)))
    return perm[nt + nv:], perm[nt:nt + nv], perm[:nt]


def load_boxes():
    boxes = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(DATA, 'scenes/boxes.csv'))):
        boxes[r['image']].append((r['label'], *[float(r[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax')]))
    return boxes


# ---------------------------------------------------------------- detectors
class FhogDet:
    def __init__(self, paths, scale=1.0, box_scale=1.0, pad=0):
        # 'stock' = dlib's own 5-component frontal detector (80x80 window), run on the same pyramid
        self.dets = [dlib.get_frontal_face_detector() if p == 'stock' else dlib.fhog_object_detector(p) for p in paths]
        self.scale, self.box_scale, self.pad = scale, box_scale, pad

    def __call__(self, bgr_or_gray, thr=-1.0):
        g = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
        s = self.scale
        if s != 1.0:
            g = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
        p = self.pad
        if p:
            g = cv2.copyMakeBorder(g, p, p, p, p, cv2.BORDER_REPLICATE)
        rects, scores, _ = dlib.fhog_object_detector.run_multiple(self.dets, g, 0, thr)
        out = []
        for r, sc in zip(rects, scores):
            cx, cy = (r.left() + r.right() + 1) / 2 - p, (r.top() + r.bottom() + 1) / 2 - p
            h = r.width() * self.box_scale / 2
            out.append(((cx - h) / s, (cy - h) / s, (cx + h) / s, (cy + h) / s, sc))
        if len(self.dets) > 1:   # run_multiple does no NMS across detectors: do it here
            out = nms(out)
        return out


def nms(dets, iou_thr=0.4, cover_thr=0.7):
    keep = []
    for d in sorted(dets, key=lambda d: -d[4]):
        ok = True
        for k in keep:
            iw = min(d[2], k[2]) - max(d[0], k[0]); ih = min(d[3], k[3]) - max(d[1], k[1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                a1, a2 = (d[2] - d[0]) * (d[3] - d[1]), (k[2] - k[0]) * (k[3] - k[1])
                if inter / (a1 + a2 - inter) >= iou_thr or inter / min(a1, a2) >= cover_thr:
                    ok = False
                    break
        if ok:
            keep.append(d)
    return keep


class StockDlib:
    def __init__(self, up):
        self.d, self.up = dlib.get_frontal_face_detector(), up

    def __call__(self, img, thr=-1.0):
        g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        rects, scores, _ = self.d.run(g, self.up, thr)
        return [(r.left(), r.top(), r.right() + 1, r.bottom() + 1, s) for r, s in zip(rects, scores)]


class Haar:
    def __init__(self):
        self.c = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, 'haarcascade_frontalface_default.xml'))

    def __call__(self, img, thr=None):
        g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        r, _, w = self.c.detectMultiScale3(g, scaleFactor=1.1, minNeighbors=5, outputRejectLevels=True)
        w = np.asarray(w).ravel() if len(r) else []
        return [(x, y, x + ww, y + hh, float(s)) for (x, y, ww, hh), s in zip(r, w)]


class AizooSSD:
    def __init__(self):
        m = os.path.join(DATA, '..', 'models', 'aizoo-ssd')
        self.net = cv2.dnn.readNetFromCaffe(os.path.join(m, 'face_mask_detection.prototxt'),
                                            os.path.join(m, 'face_mask_detection.caffemodel'))
        fms = [33, 17, 9, 5, 3]
        sizes = [[0.04, 0.056], [0.08, 0.11], [0.16, 0.22], [0.32, 0.45], [0.64, 0.72]]
        ratios = [1, 0.62, 0.42]
        anchors = []
        for fm, sz in zip(fms, sizes):
            c = (np.arange(fm) + 0.5) / fm
            cx, cy = np.meshgrid(c, c)
            wh = [(s * np.sqrt(ratios[0]), s / np.sqrt(ratios[0])) for s in sz]
            wh += [(sz[0] * np.sqrt(r), sz[0] / np.sqrt(r)) for r in ratios[1:]]
            a = np.stack([np.stack([cx, cy, np.full_like(cx, w), np.full_like(cx, h)], -1) for w, h in wh], 2)
            anchors.append(a.reshape(-1, 4))
        self.anchors = np.concatenate(anchors)   # cx, cy, w, h

    def __call__(self, bgr, thr=0.2):
        H, W = bgr.shape[:2]
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, (260, 260), swapRB=True)
        self.net.setInput(blob)
        loc, cls = self.net.forward(['loc_branch_concat', 'cls_branch_concat'])
        loc, cls = loc.reshape(-1, 4), cls.reshape(-1, 2)
        a = self.anchors
        cx = loc[:, 0] * 0.1 * a[:, 2] + a[:, 0]
        cy = loc[:, 1] * 0.1 * a[:, 3] + a[:, 1]
        w = np.exp(loc[:, 2] * 0.2) * a[:, 2]
        h = np.exp(loc[:, 3] * 0.2) * a[:, 3]
        sc = cls.max(1)
        k = sc >= thr
        b = np.stack([(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H], 1)[k]
        sc = sc[k]
        idx = cv2.dnn.NMSBoxes([[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in b],
                               sc.astype(float).tolist(), float(thr), 0.4)
        idx = np.asarray(idx).ravel()
        return [(*b[i], float(sc[i])) for i in idx]


def make_detector(spec, args):
    if spec.startswith('svm:'):
        return FhogDet(spec[4:].split('+'), scale=args.scale, box_scale=args.box_scale, pad=args.pad)
    if spec in ('dlib0', 'dlib1'):
        return StockDlib(int(spec[-1]))
    if spec == 'haar':
        return Haar()
    if spec == 'ssd':
        return AizooSSD()
    raise ValueError(spec)


# ---------------------------------------------------------------- metrics
def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    i = iw * ih
    return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i)


def evaluate(all_dets, names, boxes, thr, min_side=24, iou_thr=0.4):
    tp = defaultdict(int); n = defaultdict(int); fp = 0; ntp = 0
    for name in names:
        gts = boxes[name]
        counted = [min(g[3] - g[1], g[4] - g[2]) >= min_side for g in gts]
        for g, c in zip(gts, counted):
            if c:
                n[g[0]] += 1
        used = [False] * len(gts)
        for d in sorted([d for d in all_dets[name] if d[4] >= thr], key=lambda d: -d[4]):
            best, bi = iou_thr, -1
            for j, g in enumerate(gts):
                if not used[j]:
                    v = iou(d, g[1:])
                    if v >= best:
                        best, bi = v, j
            if bi < 0:
                fp += 1
                continue
            used[bi] = True
            if counted[bi]:
                tp[gts[bi][0]] += 1
                ntp += 1
    res = {f'recall_{l}': tp[l] / max(1, n[l]) for l in LABELS}
    res['precision'] = ntp / max(1, ntp + fp)
    res['n'] = dict(n)
    res['fp'] = fp
    res['thr'] = thr
    return res


def pick_threshold(all_dets, names, boxes, target_precision=0.9):
    """Lowest threshold whose precision on `names` reaches target_precision (max recall at that
    precision); if none reaches it, the threshold maximising F1."""
    scores = sorted({round(d[4], 3) for n in names for d in all_dets[n]})
    cands = np.unique(np.quantile(scores, np.linspace(0, 1, 101))) if scores else [0.0]
    best_ok, best_f1 = None, None
    for t in cands:
        r = evaluate(all_dets, names, boxes, t)
        rec = (r['recall_with_mask'] + r['recall_without_mask']) / 2
        if r['precision'] >= target_precision and (best_ok is None or rec > best_ok[0]):
            best_ok = (rec, t)
        f1 = 2 * rec * r['precision'] / max(1e-9, rec + r['precision'])
        if best_f1 is None or f1 > best_f1[0]:
            best_f1 = (f1, t)
    return float(best_ok[1] if best_ok else best_f1[1])


def time_frames(det, names, thr, n=40, gray=True):
    cv2.setNumThreads(1)
    frames = []
    for name in names[:n]:
        im = cv2.imread(os.path.join(DATA, 'scenes/images', name))
        im = cv2.resize(im, (640, 480), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) if gray else im)
    det(frames[0], thr)
    ts = []
    for _ in range(2):
        for f in frames:
            t = time.perf_counter(); det(f, thr); ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def split_faces(seed=0, eval_frac=0.3):
    rows = list(csv.DictReader(open(os.path.join(DATA, 'faces', 'manifest.csv'))))
    groups = sorted({r['group'] for r in rows})
    rng = np.random.default_rng(seed)
    ev = {groups[i] for i in rng.permutation(len(groups))[:int(round(eval_frac * len(groups)))]}
    return [r for r in rows if r['group'] not in ev], [r for r in rows if r['group'] in ev]


def faces_found(det, thr, pad_frac, limit=None):
    rows = split_faces()[1]   # held-out near-duplicate groups only
    if limit:
        rows = rows[::max(1, len(rows) // limit)]
    hit, tot = defaultdict(int), defaultdict(int)
    for r in rows:
        im = cv2.imread(os.path.join(DATA, 'faces', r['file']))
        if im is None:
            continue
        if pad_frac:
            p = int(round(pad_frac * max(im.shape[:2])))
            im = cv2.copyMakeBorder(im, p, p, p, p, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        tot[r['label']] += 1
        if any(d[4] >= thr for d in det(im, thr)):
            hit[r['label']] += 1
    return {l: hit[l] / max(1, tot[l]) for l in tot}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('detectors', nargs='+', help='svm:a.svm[+b.svm] | dlib0 | dlib1 | haar | ssd')
    ap.add_argument('--scale', type=float, default=1.0, help='resize factor applied before an svm detector')
    ap.add_argument('--box-scale', type=float, default=1.0)
    ap.add_argument('--pad', type=int, default=0)
    ap.add_argument('--thr', type=float, default=None, help='fixed score threshold (default: pick on val)')
    ap.add_argument('--faces', type=int, default=0, help='evaluate faces/ on N images (0 = skip, -1 = all)')
    ap.add_argument('--out', default=None, help='append a JSON line per detector here')
    a = ap.parse_args()
    train, val, test = split_images()
    boxes = load_boxes()
    cv2.setNumThreads(1)
    for spec in a.detectors:
        det = make_detector(spec, a)
        low = {'haar': -1e9, 'ssd': 0.2}.get(spec, -0.6)
        all_dets = {}
        t0 = time.time()
        for name in val + test:
            im = cv2.imread(os.path.join(DATA, 'scenes/images', name))
            all_dets[name] = det(im if spec == 'ssd' else cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), low)
        if a.thr is not None:
            thr = a.thr
        elif spec in ('dlib0', 'dlib1'):
            thr = 0.0
        elif spec == 'haar':
            thr = -1e9
        elif spec == 'ssd':
            thr = 0.5
        else:
            thr = pick_threshold(all_dets, val, boxes)
        res = {'detector': spec, 'scale': a.scale if spec.startswith('svm:') else None}
        res['val'] = evaluate(all_dets, val, boxes, thr)
        res['test'] = evaluate(all_dets, test, boxes, thr)
        # also: test figures at the threshold that would be picked on test itself (optimistic)
        if spec.startswith('svm:') or spec == 'ssd':
            res['test_oracle'] = evaluate(all_dets, test, boxes, pick_threshold(all_dets, test, boxes))
        res['ms_640x480'] = time_frames(det, test, thr, gray=(spec != 'ssd'))
        if a.faces:
            lim = None if a.faces < 0 else a.faces
            res['faces_raw'] = faces_found(det, thr, 0.0, lim)
            res['faces_pad25'] = faces_found(det, thr, 0.25, lim)
        res['eval_s'] = round(time.time() - t0, 1)
        print(json.dumps(res), flush=True)
        if a.out:
            with open(a.out, 'a') as f:
                f.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main()
