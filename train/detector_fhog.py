#!/usr/bin/env python
"""Train a dlib FHOG face detector (masked + unmasked faces) for maskhog.

Self-contained. Reads the read-only scenes data, writes training chips + a dlib
XML dataset into --work, and trains with dlib.train_simple_object_detector.

Data preparation (all numbers are options below):
  * split the 683 scene images by image, seeded (seed 0): 20% test, 10% val,
    70% train (same split function as eval_detector.py);
  * every face box -> square box, same centre, side = sqrt(w*h);
  * faces whose square side < --min-train-side (px, original image) are never
    positives (they stay "ignore" boxes);
  * for every trainable face not yet covered, cut one chip: rescale the image
    so that the face side becomes W*u (W = window side, u ~ U[1.0, --max-u]),
    crop a --chip-mult*W square chip around it (random offset up to W/2,
    clipped to the image); inside the chip every face box whose side is in
    [0.9 W, chip] and that lies fully inside the chip is a positive, every
    other face (too small, cut by the border) is an ignore box;
  * per training image one extra "context" chip: the whole image rescaled so
    its longest side is --ctx-side px (backgrounds at a coarse scale, large
    faces as positives);
  * left-right flips via dlib's add_left_right_image_flips;
  * grayscale chips (the detector runs on gray frames).
"""
import argparse, csv, os, re, resource, time
from pathlib import Path
from collections import defaultdict
import numpy as np
import cv2
import dlib

from maskhog.detector_training import write_dlib_xml, image_split, pasted_chips, scene_chips

DATA = os.path.join(os.environ.get('MASKHOG_DATA', '../shared/data'), 'scenes')


def split_images(seed=0, test_frac=0.2, val_frac=0.1):
    names = {r['image'] for r in csv.DictReader(open(os.path.join(DATA, 'boxes.csv')))}
    return image_split(names, seed, test_frac, val_frac)   # train, val, test


def load_boxes():
    boxes = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(DATA, 'boxes.csv'))):
        boxes[r['image']].append((r['label'], *[float(r[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax')]))
    return boxes


def read_gray(path):
    """The study's reader (OpenCV's decoder), kept so that its runs stay reproducible."""
    return cv2.imread(path, cv2.IMREAD_GRAYSCALE)


def scene_photos(images, boxes):
    """Photo path -> [(label, (x0, y0, x1, y1))], in the order of `images`."""
    return {os.path.join(DATA, 'images', name): [(b[0], tuple(b[1:])) for b in boxes[name]]
            for name in images}


def make_chips(images, boxes, W, work, seed, min_train_side, max_u, chip_mult, ctx_side,
               classes=('with_mask', 'without_mask', 'incorrect_mask'), copies=1):
    return scene_chips(scene_photos(images, boxes), W, Path(work), seed, min_train_side, max_u,
                       chip_mult, ctx_side, classes=classes, copies=copies, read=read_gray)


def split_faces(seed=0, eval_frac=0.3):
    """faces/ manifest rows split by near-duplicate group: (train_rows, eval_rows)."""
    rows = list(csv.DictReader(open(os.path.join(os.path.dirname(DATA), 'faces', 'manifest.csv'))))
    groups = sorted({r['group'] for r in rows})
    rng = np.random.default_rng(seed)
    ev = {groups[i] for i in rng.permutation(len(groups))[:int(round(eval_frac * len(groups)))]}
    return [r for r in rows if r['group'] not in ev], [r for r in rows if r['group'] in ev]


def make_paste_chips(scene_names, boxes, W, work, seed, n, max_u, chip_mult, max_side=260):
    """Paste tight face crops from faces/ (train groups only, longest side <= max_side px) into
    random scene-background chips; the pasted crop's square box (side sqrt(w*h)) is the positive,
    the scene's own faces are ignore boxes."""
    fdir = os.path.join(os.path.dirname(DATA), 'faces')
    faces = [(os.path.join(fdir, r['file']), r['label'], (int(r['width']), int(r['height'])))
             for r in split_faces(seed)[0]]
    return pasted_chips(scene_photos(scene_names, boxes), faces, W, Path(work), seed, n, max_u,
                        chip_mult, max_side, read=read_gray)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--work', default='/tmp/detstudy/work')
    ap.add_argument('--window', type=int, default=40)
    ap.add_argument('--C', type=float, default=1.0)
    ap.add_argument('--eps', type=float, default=0.01)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--min-train-side', type=float, default=16)
    ap.add_argument('--max-u', type=float, default=1.3)
    ap.add_argument('--chip-mult', type=float, default=4.0)
    ap.add_argument('--ctx-side', type=int, default=400)
    ap.add_argument('--copies', type=int, default=1)
    ap.add_argument('--classes', default='with_mask,without_mask,incorrect_mask')
    ap.add_argument('--no-flip', action='store_true')
    ap.add_argument('--use-val', action='store_true', help='also train on the val split')
    ap.add_argument('--max-runtime', type=float, default=1700)
    ap.add_argument('--paste', type=int, default=0, help='number of faces/ crops pasted into scene chips')
    ap.add_argument('--components', default='1', help="1 | class (masked vs unmasked) | kN (k-means on HOG, N parts)")
    ap.add_argument('--recipe', default=None,
                    help="'maskhog': train both detectors of the recommended default into --out's folder")
    a = ap.parse_args()
    if a.recipe == 'maskhog':
        import copy
        outdir = a.out if a.out.endswith('/') or os.path.isdir(a.out) else os.path.dirname(a.out) or '.'
        for name, kw in (('face_fhog48_scenes.svm', dict(window=48, C=1000.0, ctx_side=400, paste=0)),
                         ('face_fhog48_paste.svm', dict(window=48, C=300.0, ctx_side=640, paste=1500))):
            b = copy.copy(a)
            b.out, b.recipe = os.path.join(outdir, name), None
            for k, v in kw.items():
                setattr(b, k, v)
            run(b)
        return
    run(a)


def run(a):
    train, val, test = split_images(a.seed)
    if a.use_val:
        train = train + val
    boxes = load_boxes()
    work = os.path.join(a.work, os.path.splitext(os.path.basename(a.out))[0])
    entries = make_chips(train, boxes, a.window, work, a.seed, a.min_train_side, a.max_u, a.chip_mult,
                         a.ctx_side, classes=tuple(a.classes.split(',')), copies=a.copies)
    if a.paste:
        entries += make_paste_chips(train, boxes, a.window, work, a.seed, a.paste, a.max_u, a.chip_mult)
    parts = split_components(entries, a.components, a.seed)
    if len(parts) > 1:
        outs = []
        for k, ent in enumerate(parts):
            out_k = a.out.replace('.svm', f'_part{k}.svm')
            train_one(ent, os.path.join(work, f'train{k}.xml'), out_k, a)
            outs.append(out_k)
        print('PARTS', ' '.join(outs))
        return
    train_one(entries, os.path.join(work, 'train.xml'), a.out, a)


def split_components(entries, mode, seed):
    if mode == '1':
        return [entries]
    allpos = [(i, j) for i, e in enumerate(entries) for j in range(len(e[1]))]
    if mode == 'class':
        comp = {(i, j): int(entries[i][1][j][4] == 'without_mask') for i, j in allpos}
        K = 2
    else:
        from sklearn.cluster import KMeans
        K = int(mode[1:])
        hog = cv2.HOGDescriptor((32, 32), (16, 16), (8, 8), (8, 8), 9)
        feats = []
        for i, j in allpos:
            im = cv2.imread(entries[i][0], cv2.IMREAD_GRAYSCALE)
            l, t, w, h = entries[i][1][j][:4]
            c = cv2.resize(im[t:t + h, l:l + w], (32, 32), interpolation=cv2.INTER_AREA)
            f1, f2 = hog.compute(c).ravel(), hog.compute(c[:, ::-1].copy()).ravel()
            feats.append(np.maximum(f1, f2) if False else f1 + f2)   # mirror-symmetric descriptor
        lab = KMeans(K, n_init=4, random_state=seed).fit_predict(np.array(feats))
        comp = {p: int(c) for p, c in zip(allpos, lab)}
    parts = []
    for k in range(K):
        ent = []
        for i, (fn, pos, ign) in enumerate(entries):
            p = [r for j, r in enumerate(pos) if comp[(i, j)] == k]
            q = ign + [r[:4] for j, r in enumerate(pos) if comp[(i, j)] != k]
            ent.append((fn, p, q))
        parts.append(ent)
        print(f'component {k}: {sum(len(e[1]) for e in ent)} positives', flush=True)
    return parts


def train_one(entries, xml, out, a):
    write_dlib_xml(entries, Path(xml))
    npos = sum(len(e[1]) for e in entries)
    npix = sum(cv2.imread(e[0], cv2.IMREAD_UNCHANGED).size for e in entries)
    print(f'chips={len(entries)} positives={npos} Mpix={npix/1e6:.1f}', flush=True)

    o = dlib.simple_object_detector_training_options()
    o.detection_window_size = a.window * a.window
    o.C = a.C
    o.epsilon = a.eps
    o.num_threads = a.threads
    o.add_left_right_image_flips = not a.no_flip
    o.upsample_limit = 0
    o.be_verbose = True
    o.max_runtime_seconds = a.max_runtime
    t1 = time.time()
    for attempt in range(60):
        try:
            dlib.train_simple_object_detector(xml, out, o)
            break
        except RuntimeError as e:   # drop the few chips dlib still calls unreachable, retry
            msg = str(e)
            bad = {l.strip() for l in msg.splitlines() if l.strip().endswith('.png')}
            m = re.search(r'image index\s+(\d+)', msg)
            if m:
                idx = int(m.group(1)) % len(entries)
                bad.add(entries[idx][0])
                print('unreachable:', entries[idx][0], re.search(r'truth rect:.*', msg).group(0),
                      re.search(r'best possible match:.*', msg).group(0), flush=True)
            if not bad or attempt == 59:
                raise
            print(f'dropping {len(bad)} chips dlib calls impossible', flush=True)
            entries = [e_ for e_ in entries if e_[0] not in bad]
            write_dlib_xml(entries, Path(xml))
    tt = time.time() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'TRAINED {out} train_s={tt:.0f} peak_MB={peak:.0f}', flush=True)
    d = dlib.simple_object_detector(out)
    print('window', d.detection_window_width, d.detection_window_height)


if __name__ == '__main__':
    main()
