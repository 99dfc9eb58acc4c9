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
import argparse, csv, os, random, re, resource, time
from collections import defaultdict
import numpy as np
import cv2
import dlib

DATA = os.path.join(os.environ.get('MASKHOG_DATA', '../shared/data'), 'scenes')


def split_images(seed=0, test_frac=0.2, val_frac=0.1):
    names = sorted({r['image'] for r in csv.DictReader(open(os.path.join(DATA, 'boxes.csv')))})
    rng = np.random.default_rng(seed)
    perm = [names[i] for i in rng.permutation(len(names))]
    nt, nv = int(round(test_frac * len(names))), int(round(val_frac * len(names)))
    return perm[nt + nv:], perm[nt:nt + nv], perm[:nt]   # train, val, test


def load_boxes():
    boxes = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(DATA, 'boxes.csv'))):
        boxes[r['image']].append((r['label'], *[float(r[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax')]))
    return boxes


def square(b):
    _, x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    s = np.sqrt(max(w, 1) * max(h, 1))
    return (x0 + x1) / 2, (y0 + y1) / 2, s


def make_chips(images, boxes, W, work, seed, min_train_side, max_u, chip_mult, ctx_side,
               classes=('with_mask', 'without_mask', 'incorrect_mask'), copies=1):
    rng = random.Random(seed)
    os.makedirs(os.path.join(work, 'chips'), exist_ok=True)
    entries = []
    for name in images:
        img = cv2.imread(os.path.join(DATA, 'images', name), cv2.IMREAD_GRAYSCALE)
        H, Wd = img.shape
        faces = [(b[0], *square(b)) for b in boxes[name]]
        trainable = [i for i, f in enumerate(faces) if f[3] >= min_train_side and f[0] in classes]
        todo = {i: copies for i in trainable}
        order = trainable[:]
        rng.shuffle(order)

        def crop(s, cx0, cy0, cs_w, cs_h):
            # chip = region [cx0, cx0+cs_w) x [cy0, cy0+cs_h) of the image scaled by s
            M = np.array([[s, 0, -cx0], [0, s, -cy0]], dtype=np.float64)
            interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
            if s < 1:   # pre-shrink with INTER_AREA for quality
                small = cv2.resize(img, (max(1, int(round(Wd * s))), max(1, int(round(H * s)))), interpolation=interp)
                M = np.array([[1, 0, -cx0], [0, 1, -cy0]], dtype=np.float64)
                return cv2.warpAffine(small, M, (cs_w, cs_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            return cv2.warpAffine(img, M, (cs_w, cs_h), flags=interp, borderMode=cv2.BORDER_REPLICATE)

        def label(s, cx0, cy0, cs_w, cs_h):
            pos, ign, covered = [], [], []
            for i, (lab, cx, cy, side) in enumerate(faces):
                ss = side * s
                l, t = cx * s - cx0 - ss / 2, cy * s - cy0 - ss / 2
                r = (int(round(l)), int(round(t)), int(round(ss)), int(round(ss)))
                if r[2] < 2 or l + ss < 0 or t + ss < 0 or l > cs_w or t > cs_h:
                    continue
                m = max(8.0, 0.3 * ss)   # the FHOG window (with padding) must fit: keep positives off the border
                inside = l >= m and t >= m and l + ss <= cs_w - m and t + ss <= cs_h - m
                if inside and ss >= 0.9 * W and lab in classes and side >= min_train_side:
                    pos.append(r + (lab,))
                    if ss <= 1.6 * W:
                        covered.append(i)
                else:
                    ign.append(r)
            # duplicate / heavily overlapping positives make dlib's labelling impossible
            kept = []
            for r in pos:
                bad = False
                for q in kept:
                    iw = min(r[0] + r[2], q[0] + q[2]) - max(r[0], q[0])
                    ih = min(r[1] + r[3], q[1] + q[3]) - max(r[1], q[1])
                    if iw > 0 and ih > 0:
                        inter = iw * ih
                        if inter / (r[2] * r[3] + q[2] * q[3] - inter) > 0.3 or inter / min(r[2] * r[3], q[2] * q[3]) > 0.5:
                            bad = True
                            break
                (ign if bad else kept).append(r)
            return kept, ign, covered

        k = 0
        for i in order:
            while todo.get(i, 0) > 0:
                lab, cx, cy, side = faces[i]
                s = W * rng.uniform(1.0, max_u) / side
                cs = int(round(chip_mult * W))
                sw, sh = Wd * s, H * s
                cs_w, cs_h = min(cs, int(sw)), min(cs, int(sh))
                cx0 = cx * s - cs_w / 2 + rng.uniform(-W / 2, W / 2)
                cy0 = cy * s - cs_h / 2 + rng.uniform(-W / 2, W / 2)
                # keep the face itself inside the chip
                cx0 = min(max(cx0, cx * s + side * s / 2 - cs_w), cx * s - side * s / 2)
                cy0 = min(max(cy0, cy * s + side * s / 2 - cs_h), cy * s - side * s / 2)
                cx0 = int(round(min(max(cx0, 0), sw - cs_w)))
                cy0 = int(round(min(max(cy0, 0), sh - cs_h)))
                pos, ign, covered = label(s, cx0, cy0, cs_w, cs_h)
                for c in covered:
                    if c in todo and todo[c] > 0:
                        todo[c] -= 1
                todo[i] = max(0, todo[i] - 1)   # guarantee progress
                if not pos:
                    continue
                chip = crop(s, cx0, cy0, cs_w, cs_h)
                fn = os.path.join(work, 'chips', f'{name[:-4]}_{k}.png')
                k += 1
                cv2.imwrite(fn, chip)
                entries.append((fn, pos, ign))
        if ctx_side > 0:
            s = min(1.0, ctx_side / max(H, Wd))
            cs_w, cs_h = int(round(Wd * s)), int(round(H * s))
            pos, ign, _ = label(s, 0, 0, cs_w, cs_h)
            chip = cv2.resize(img, (cs_w, cs_h), interpolation=cv2.INTER_AREA)
            fn = os.path.join(work, 'chips', f'{name[:-4]}_ctx.png')
            cv2.imwrite(fn, chip)
            entries.append((fn, pos, ign))
    return entries


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
    rng = random.Random(seed + 1)
    rows = [r for r in split_faces(seed)[0] if max(int(r['width']), int(r['height'])) <= max_side]
    rng.shuffle(rows)
    rows = rows[:n]
    fdir = os.path.join(os.path.dirname(DATA), 'faces')
    os.makedirs(os.path.join(work, 'paste'), exist_ok=True)
    entries = []
    cs = int(round(chip_mult * W))
    for k, r in enumerate(rows):
        face = cv2.imread(os.path.join(fdir, r['file']), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        fh, fw = face.shape
        side = W * rng.uniform(1.0, max_u)
        f = side / np.sqrt(fw * fh)
        pw, ph = max(2, int(round(fw * f))), max(2, int(round(fh * f)))
        name = rng.choice(scene_names)
        img = cv2.imread(os.path.join(DATA, 'images', name), cv2.IMREAD_GRAYSCALE)
        H, Wd = img.shape
        s = rng.uniform(0.4, 1.5)
        s = max(s, cs / min(H, Wd))
        sw, sh = int(Wd * s), int(H * s)
        x0, y0 = rng.randint(0, sw - cs), rng.randint(0, sh - cs)
        small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        chip = small[y0:y0 + cs, x0:x0 + cs].copy()
        ign = []
        for b in boxes[name]:
            cx, cy, sd = square(b)
            ss = sd * s
            l, t = int(round(cx * s - x0 - ss / 2)), int(round(cy * s - y0 - ss / 2))
            if l + ss > 0 and t + ss > 0 and l < cs and t < cs:
                ign.append((l, t, int(round(ss)), int(round(ss))))
        m = max(8.0, 0.3 * side)
        bl_min, bl_max = m, cs - m - side
        cx = rng.uniform(bl_min, bl_max) + side / 2
        cy = rng.uniform(bl_min, bl_max) + side / 2
        px, py = int(round(cx - pw / 2)), int(round(cy - ph / 2))
        fr = cv2.resize(face, (pw, ph), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        ax0, ay0, ax1, ay1 = max(px, 0), max(py, 0), min(px + pw, cs), min(py + ph, cs)
        chip[ay0:ay1, ax0:ax1] = fr[ay0 - py:ay1 - py, ax0 - px:ax1 - px]
        pos = [(int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)), int(round(side)), r['label'])]
        fn = os.path.join(work, 'paste', f'p{k}.png')
        cv2.imwrite(fn, chip)
        entries.append((fn, pos, ign))
    return entries


def write_xml(entries, path):
    with open(path, 'w') as f:
        f.write("<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset>\n<images>\n")
        for fn, pos, ign in entries:
            f.write(f"  <image file='{fn}'>\n")
            for (l, t, w, h, *_) in pos:
                f.write(f"    <box top='{t}' left='{l}' width='{w}' height='{h}'/>\n")
            for (l, t, w, h, *_) in ign:
                f.write(f"    <box top='{t}' left='{l}' width='{w}' height='{h}' ignore='1'/>\n")
            f.write("  </image>\n")
        f.write("</images>\n</dataset>\n")


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
    t0 = time.time()
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
    write_xml(entries, xml)
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
            write_xml(entries, xml)
    tt = time.time() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'TRAINED {out} train_s={tt:.0f} peak_MB={peak:.0f}', flush=True)
    d = dlib.simple_object_detector(out)
    print('window', d.detection_window_width, d.detection_window_height)


if __name__ == '__main__':
    main()
