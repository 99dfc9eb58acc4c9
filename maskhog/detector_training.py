"""Training maskhog's face detector: fHOG templates for faces with and without masks.

dlib trains fHOG sliding-window detectors (``dlib.train_simple_object_detector``)
but, fed whole crowd photos, it runs out of memory, demands one aspect ratio,
and refuses boxes its image pyramid cannot reach. So the faces are prepared
for it first (the study behind this is ``docs/studies/detector-fhog``):

1. :func:`image_split` holds out whole photos (20% test, 10% validation);
2. every face box becomes a square of the same area (:func:`square`);
3. :func:`scene_chips` cuts, around each face of 16 px or more, a chip of the
   photo rescaled so that the face is 1.0-1.3 times the detection window;
   faces in a chip that are too small, cut by its border or overlapping are
   marked "ignore", and each photo also gives one whole, shrunk "context"
   chip (background at a coarse scale);
4. :func:`pasted_chips` pastes tight face photos (class folders, groups not
   held out) into random scene backgrounds: more masked faces, more poses;
5. :func:`train_template` writes dlib's XML and trains, dropping the few
   chips dlib still calls impossible.

:func:`train_detector` makes both templates of maskhog's shipped detector
(``maskhog/models/face_fhog48_*.svm``): one from the scene chips, one with
pasted faces too; then :func:`train_verifier` fits the face verifier
(:mod:`maskhog.verify`) on what the templates propose at a low threshold.
``maskhog train-detector`` runs both.
"""

from __future__ import annotations

import logging
import random
import re
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .detect import DUPLICATE_COVER, DUPLICATE_IOU, Face, MaskHog, box_iou, merge_duplicates
from .labels import CLASSES

log = logging.getLogger("maskhog")

__all__ = ["RECIPE", "VERIFIER", "image_split", "square", "scene_chips", "pasted_chips", "write_dlib_xml",
           "train_template", "train_detector", "match_faces", "train_verifier"]

#: The shipped templates: file name and settings (window side, SVM C, context chip side,
#: number of pasted faces).
RECIPE = (("face_fhog48_scenes.svm", {"window": 48, "C": 1000.0, "ctx_side": 400, "paste": 0}),
          ("face_fhog48_paste.svm", {"window": 48, "C": 300.0, "ctx_side": 640, "paste": 1500}))

#: The face verifier: the template score from which proposals are looked at, its SVM's C
#: (docs/studies/color-cues), the precision its threshold must keep, and the scales the
#: photos are searched at for its training proposals (1.5: enlarged small faces, as
#: ``--min-face`` searches them; trained at 1.0 alone it found 0.37 of the held-out
#: unmasked faces, 0.48 with both).
VERIFIER = {"candidate_threshold": -0.9, "C": 0.001, "min_precision": 0.90, "min_side": 24,
            "scales": (1.0, 1.5)}


def image_split(names, seed: int = 0, test_frac: float = 0.2, val_frac: float = 0.1):
    """``(train, validation, test)`` lists of photo names: whole photos held out, seeded."""
    names = sorted(set(names))
    perm = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    nt, nv = int(round(test_frac * len(names))), int(round(val_frac * len(names)))
    return perm[nt + nv:], perm[nt:nt + nv], perm[:nt]


def square(box) -> tuple[float, float, float]:
    """Centre and side of the square with the area of ``box = (x1, y1, x2, y2)``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + x1) / 2, (y0 + y1) / 2, float(np.sqrt(max(w, 1) * max(h, 1)))


def _gray(path):
    """The photo as gray, or ``None`` (with a warning naming it) if it cannot be read."""
    from .io import ImageError, read_image, to_gray

    try:
        return to_gray(read_image(path))
    except ImageError as exc:
        log.warning("skipped %s", exc)
        return None


def _separate(pos):
    """Positives that overlap a kept one much become ignore boxes (dlib cannot label both)."""
    kept, ignored = [], []
    for r in pos:
        for q in kept:
            iw = min(r[0] + r[2], q[0] + q[2]) - max(r[0], q[0])
            ih = min(r[1] + r[3], q[1] + q[3]) - max(r[1], q[1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                if (inter / (r[2] * r[3] + q[2] * q[3] - inter) > 0.3
                        or inter / min(r[2] * r[3], q[2] * q[3]) > 0.5):
                    ignored.append(r[:4])
                    break
        else:
            kept.append(r)
    return kept, ignored


def scene_chips(photos: dict, window: int, work: Path, seed: int = 0, min_side: float = 16,
                max_u: float = 1.3, chip_mult: float = 4.0, ctx_side: int = 400, *,
                classes=CLASSES, copies: int = 1, read=None) -> list:
    """Training chips around the faces of scene photos.

    Parameters
    ----------
    photos : dict
        Photo path -> list of ``(label, (x1, y1, x2, y2))`` faces, in the order to use.
    window : int
        The detection window's side in pixels.
    work : Path
        Folder for the chip images.
    classes, copies
        Faces of these classes are positives (the others are ignored), each
        in at least ``copies`` chips.
    read : callable(path) -> gray uint8 image or None, optional
        Default: maskhog's own reader (a warning and ``None`` for unreadable files).

    Returns
    -------
    list of ``(chip path, positives, ignores)``; boxes are ``(left, top, width, height)``.
    """
    import cv2

    read = read or _gray
    rng = random.Random(seed)
    (work / "chips").mkdir(parents=True, exist_ok=True)
    entries = []
    for path, boxes in photos.items():
        img = read(path)
        if img is None:
            continue
        H, Wd = img.shape
        faces = [(label, *square(box)) for label, box in boxes]
        trainable = [i for i, f in enumerate(faces) if f[3] >= min_side and f[0] in classes]
        todo = {i: copies for i in trainable}
        order = trainable[:]
        rng.shuffle(order)

        def crop(s, cx0, cy0, cs_w, cs_h):
            # The region [cx0, cx0 + cs_w) x [cy0, cy0 + cs_h) of the photo scaled by s.
            if s < 1:   # shrink with area averaging first, for quality
                small = cv2.resize(img, (max(1, int(round(Wd * s))), max(1, int(round(H * s)))),
                                   interpolation=cv2.INTER_AREA)
                m = np.array([[1, 0, -cx0], [0, 1, -cy0]], dtype=np.float64)
                return cv2.warpAffine(small, m, (cs_w, cs_h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
            m = np.array([[s, 0, -cx0], [0, s, -cy0]], dtype=np.float64)
            return cv2.warpAffine(img, m, (cs_w, cs_h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)

        def label(s, cx0, cy0, cs_w, cs_h):
            pos, ign, covered = [], [], []
            for i, (lab, cx, cy, side) in enumerate(faces):
                ss = side * s
                left, top = cx * s - cx0 - ss / 2, cy * s - cy0 - ss / 2
                r = (int(round(left)), int(round(top)), int(round(ss)), int(round(ss)))
                if r[2] < 2 or left + ss < 0 or top + ss < 0 or left > cs_w or top > cs_h:
                    continue
                m = max(8.0, 0.3 * ss)   # the window and its padding must fit inside the chip
                inside = left >= m and top >= m and left + ss <= cs_w - m and top + ss <= cs_h - m
                if inside and ss >= 0.9 * window and lab in classes and side >= min_side:
                    pos.append(r + (lab,))
                    if ss <= 1.6 * window:
                        covered.append(i)
                else:
                    ign.append(r)
            kept, ignored = _separate(pos)
            return kept, ign + ignored, covered

        stem = Path(path).stem
        k = 0
        for i in order:
            while todo.get(i, 0) > 0:
                lab, cx, cy, side = faces[i]
                s = window * rng.uniform(1.0, max_u) / side
                cs = int(round(chip_mult * window))
                sw, sh = Wd * s, H * s
                cs_w, cs_h = min(cs, int(sw)), min(cs, int(sh))
                cx0 = cx * s - cs_w / 2 + rng.uniform(-window / 2, window / 2)
                cy0 = cy * s - cs_h / 2 + rng.uniform(-window / 2, window / 2)
                # Keep the face itself inside the chip, and the chip inside the photo.
                cx0 = min(max(cx0, cx * s + side * s / 2 - cs_w), cx * s - side * s / 2)
                cy0 = min(max(cy0, cy * s + side * s / 2 - cs_h), cy * s - side * s / 2)
                cx0 = int(round(min(max(cx0, 0), sw - cs_w)))
                cy0 = int(round(min(max(cy0, 0), sh - cs_h)))
                pos, ign, covered = label(s, cx0, cy0, cs_w, cs_h)
                for c in covered:
                    if todo.get(c, 0) > 0:
                        todo[c] -= 1
                todo[i] = max(0, todo[i] - 1)   # guarantee progress
                if pos:
                    chip = work / "chips" / f"{stem}_{k}.png"
                    k += 1
                    cv2.imwrite(str(chip), crop(s, cx0, cy0, cs_w, cs_h))
                    entries.append((str(chip), pos, ign))
        if ctx_side > 0:
            s = min(1.0, ctx_side / max(H, Wd))
            cs_w, cs_h = int(round(Wd * s)), int(round(H * s))
            pos, ign, _ = label(s, 0, 0, cs_w, cs_h)
            chip = work / "chips" / f"{stem}_ctx.png"
            cv2.imwrite(str(chip), cv2.resize(img, (cs_w, cs_h), interpolation=cv2.INTER_AREA))
            entries.append((str(chip), pos, ign))
    return entries


def pasted_chips(photos: dict, faces: list, window: int, work: Path, seed: int = 0, n: int = 1500,
                 max_u: float = 1.3, chip_mult: float = 4.0, max_side: int = 260, *,
                 read=None) -> list:
    """Chips of scene backgrounds with one tight face photo pasted into each.

    ``photos`` as for :func:`scene_chips` (their own faces become ignore boxes);
    ``faces`` is a list of ``(path, label)`` or ``(path, label, (width, height))``
    face photos (sizes read from the file's header when not given), of which at
    most ``n`` no larger than ``max_side`` pixels are used. The pasted face's
    square is the positive. ``read`` as for :func:`scene_chips`.
    """
    import cv2
    from PIL import Image

    read = read or _gray
    rng = random.Random(seed + 1)
    small_faces = []
    for path, label, *size in faces:
        try:
            if not size:
                with Image.open(path) as im:   # the header only
                    size = [im.size]
            if max(size[0]) <= max_side:
                small_faces.append((path, label))
        except OSError as exc:
            log.warning("skipped %s: %s", path, exc)
    rng.shuffle(small_faces)
    (work / "paste").mkdir(parents=True, exist_ok=True)
    names = list(photos)
    cs = int(round(chip_mult * window))
    entries = []
    for k, (path, label) in enumerate(small_faces[:n]):
        face = read(path)
        side = window * rng.uniform(1.0, max_u)
        name = rng.choice(names)
        img = read(name)
        if face is None or img is None:
            continue
        fh, fw = face.shape
        f = side / np.sqrt(fw * fh)
        pw, ph = max(2, int(round(fw * f))), max(2, int(round(fh * f)))
        H, Wd = img.shape
        s = max(rng.uniform(0.4, 1.5), cs / min(H, Wd))
        sw, sh = int(Wd * s), int(H * s)
        x0, y0 = rng.randint(0, sw - cs), rng.randint(0, sh - cs)
        small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        chip = small[y0:y0 + cs, x0:x0 + cs].copy()
        ign = []
        for _, box in photos[name]:
            cx, cy, sd = square(box)
            ss = sd * s
            left, top = int(round(cx * s - x0 - ss / 2)), int(round(cy * s - y0 - ss / 2))
            if left + ss > 0 and top + ss > 0 and left < cs and top < cs:
                ign.append((left, top, int(round(ss)), int(round(ss))))
        m = max(8.0, 0.3 * side)
        cx = rng.uniform(m, cs - m - side) + side / 2
        cy = rng.uniform(m, cs - m - side) + side / 2
        px, py = int(round(cx - pw / 2)), int(round(cy - ph / 2))
        pasted = cv2.resize(face, (pw, ph), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        ax0, ay0, ax1, ay1 = max(px, 0), max(py, 0), min(px + pw, cs), min(py + ph, cs)
        chip[ay0:ay1, ax0:ax1] = pasted[ay0 - py:ay1 - py, ax0 - px:ax1 - px]
        pos = [(int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)),
                int(round(side)), label)]
        out = work / "paste" / f"p{k}.png"
        cv2.imwrite(str(out), chip)
        entries.append((str(out), pos, ign))
    return entries


def write_dlib_xml(entries, path: Path) -> None:
    """dlib's imglab XML: positives, and boxes marked ``ignore``."""
    lines = ["<?xml version='1.0' encoding='ISO-8859-1'?>", "<dataset>", "<images>"]
    for chip, pos, ign in entries:
        lines.append(f"  <image file='{chip}'>")
        lines += [f"    <box top='{t}' left='{left}' width='{w}' height='{h}'/>"
                  for left, t, w, h, *_ in pos]
        lines += [f"    <box top='{t}' left='{left}' width='{w}' height='{h}' ignore='1'/>"
                  for left, t, w, h, *_ in ign]
        lines.append("  </image>")
    path.write_text("\n".join(lines + ["</images>", "</dataset>"]) + "\n")


def train_template(entries, out: Path, *, window: int, C: float, eps: float = 0.01, threads: int = 2,
                   max_runtime: float = 1700, log_fn=print) -> dict:
    """Train one fHOG template on chips; return a record (chips, positives, seconds, peak MB)."""
    import dlib

    xml = out.with_suffix(".xml")
    options = dlib.simple_object_detector_training_options()
    options.detection_window_size = window * window
    options.C, options.epsilon, options.num_threads = C, eps, threads
    options.add_left_right_image_flips = True
    options.upsample_limit = 0
    options.max_runtime_seconds = max_runtime
    start = time.time()
    for attempt in range(60):
        write_dlib_xml(entries, xml)
        try:
            dlib.train_simple_object_detector(str(xml), str(out), options)
            break
        except RuntimeError as exc:   # drop the few chips dlib calls impossible, and retry
            message = str(exc)
            found = re.search(r"image index\s+(\d+)", message)
            if not found or attempt == 59:
                raise
            bad = entries[int(found.group(1)) % len(entries)][0]
            log_fn(f"dropping chip {Path(bad).name}: dlib cannot reach one of its boxes")
            entries = [e for e in entries if e[0] != bad]
    xml.unlink(missing_ok=True)
    return {"chips": len(entries), "positives": sum(len(e[1]) for e in entries),
            "seconds": round(time.time() - start), "peak_mb":
            round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _split_scenes(scenes, seed: int):
    """The boxed faces of Pascal VOC folders, ``{photo path: [(label, box)]}``, and the
    photos' paths split by :func:`image_split` into (train, validation, test)."""
    from .data import load_datasets

    photos: dict = {}
    for s in load_datasets(scenes).samples:
        if s.box is not None:
            photos.setdefault(s.path, []).append((s.label, s.box))
    by_name = {Path(p).name: p for p in photos}
    return photos, tuple([by_name[n] for n in part] for part in image_split(by_name, seed))


def training_face_photos(faces, seed: int = 0) -> list[tuple[str, str]]:
    """``(path, label)`` of the face photos of a class-folder dataset that the detector may
    learn from: 30% of its near-duplicate groups (drawn with ``seed``) are held out."""
    from .data import load_datasets

    data = load_datasets([faces])
    groups = sorted({s.group for s in data.samples})
    held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))
            [:int(round(0.3 * len(groups)))]}
    return [(s.path, s.label) for s in data.samples if s.group not in held]


def train_detector(scenes, faces=None, *, out_dir, work, seed: int = 0, threads: int = 2,
                   recipe=RECIPE, max_runtime: float = 1700, verifier=VERIFIER, log_fn=print) -> dict:
    """Make maskhog's detector templates from Pascal VOC scenes (and face photos to paste).

    Parameters
    ----------
    scenes : list of paths
        Pascal VOC folders (``images/`` + ``annotations/``); their photos are split by
        :func:`image_split` and only the training part is used.
    faces : path, optional
        Class folders of tight face photos (with a ``manifest.csv`` of groups);
        30% of the groups are held out. Needed by templates that paste faces.
    out_dir, work : paths
        Where the ``.svm`` templates and the chip images go.
    recipe : sequence of (file name, settings)
        Default: :data:`RECIPE`, the shipped detector.
    verifier : dict or None
        Settings of the face verifier fitted next (:func:`train_verifier`,
        written as ``face_verifier.npz``); None: templates only.

    Returns
    -------
    dict: per template (and for the verifier), its training record.
    """
    pasting = [name for name, settings in recipe if settings["paste"]]
    if pasting and faces is None:
        raise ValueError(f"{', '.join(pasting)} paste face photos: give the face folders")
    photos, (train, _, _) = _split_scenes(scenes, seed)
    train_photos = {p: photos[p] for p in train}
    face_photos = training_face_photos(faces, seed) if faces is not None else []
    out_dir, work = Path(out_dir), Path(work)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = {}
    for name, settings in recipe:
        log_fn(f"{name}: cutting chips from {len(train_photos)} training photos")
        folder = work / Path(name).stem
        entries = scene_chips(train_photos, settings["window"], folder, seed, ctx_side=settings["ctx_side"])
        if settings["paste"]:
            entries += pasted_chips(train_photos, face_photos, settings["window"], folder, seed,
                                    settings["paste"])
        log_fn(f"{name}: training on {len(entries)} chips")
        records[name] = {**settings, **train_template(
            entries, out_dir / name, window=settings["window"], C=settings["C"], threads=threads,
            max_runtime=max_runtime, log_fn=log_fn)}
        log_fn(f"{name}: {records[name]}")
    if verifier is not None and {name for name, _ in recipe} >= set(MaskHog.TEMPLATES):
        from .verify import VERIFIER_FILE

        try:
            records[VERIFIER_FILE] = train_verifier(scenes, templates=out_dir, out=out_dir / VERIFIER_FILE,
                                                    seed=seed, settings=verifier, log_fn=log_fn)
        except RuntimeError as exc:   # the templates still work alone
            log_fn(f"no face verifier: {exc}")
    return records


#: A detection finds an annotated face when their boxes overlap at this IoU or more.
MATCH_IOU = 0.4


def match_faces(found, truth, min_side: int = 24, iou: float = MATCH_IOU):
    """Score one photo's detections: ``(faces counted per class, found per class, false detections)``.

    ``truth`` holds ``(label, x1, y1, x2, y2)``; a face counts when its shorter
    side is at least ``min_side``, and a detection on a smaller one is neither
    right nor wrong. Detections, best score first, take the unclaimed face
    they overlap most at IoU >= ``iou``; the rest are false.
    """
    counted = [min(x2 - x1, y2 - y1) >= min_side for _, x1, y1, x2, y2 in truth]
    used = [False] * len(truth)
    n, hit, false = Counter(), Counter(), 0
    for (label, *_), c in zip(truth, counted):
        n[label] += c
    for face in sorted(found, key=lambda f: -f.score):
        best, j = iou, -1
        for k, (_, *box) in enumerate(truth):
            overlap = box_iou(face.box, box) if not used[k] else 0.0
            if overlap >= best:
                best, j = overlap, k
        if j < 0:
            false += 1
        else:
            used[j] = True
            hit[truth[j][0]] += counted[j]
    return n, hit, false


def _detection_figures(per_photo, min_side: int) -> dict:
    """Recall per class and precision over ``[(kept faces, truth)]``."""
    n, hit, false = Counter(), Counter(), 0
    for faces, truth in per_photo:
        a, b, c = match_faces(faces, truth, min_side)
        n, hit, false = n + a, hit + b, false + c
    found = sum(hit.values())
    out = {f"recall_{c}": round(hit[c] / n[c], 4) for c in CLASSES if n[c]}
    out["precision"] = round(found / max(1, found + false), 4)
    out["faces"] = dict(n)
    return out


def _proposals(paths, photos, proposer, candidate_threshold, crop, features, scales=(1.0,), describe=None,
               keep=None) -> list:
    """Per photo and scale: the templates' proposals in the photo resized by that scale (as
    the pipeline enlarges images to reach small faces), what the verifier sees of them
    (``describe(image, faces)``, default: the linear verifier's features), boxes, best IoU
    with an annotated face, the annotated faces, and whether the face each overlaps most is
    unmasked. Boxes and faces are in the photo's own pixels. ``keep(k)``: only the photos
    (``paths[k]``) it is true for."""
    import cv2

    from .io import ImageError, read_image
    from .verify import describe_proposals

    describe = describe or (lambda image, found: describe_proposals(image, found, crop, features))

    out = []
    for k, path in enumerate(paths):
        if keep is not None and not keep(k):
            continue
        try:
            photo = read_image(path)
        except ImageError as exc:
            log.warning("skipped %s", exc)
            continue
        truth = photos[path]
        for scale in scales:
            image = photo if scale == 1 else cv2.resize(photo, None, fx=scale, fy=scale,
                                                        interpolation=cv2.INTER_LINEAR)
            found = proposer.propose(image, candidate_threshold)
            X = describe(image, found) if found else None
            faces = [Face(tuple(v / scale for v in f.box), f.score) for f in found]
            overlaps = np.array([[box_iou(f.box, t[1:]) for t in truth] for f in faces]).reshape(
                len(faces), len(truth))
            best = overlaps.argmax(axis=1) if overlaps.size else np.zeros(len(faces), int)
            iou = overlaps.max(axis=1) if overlaps.size else np.zeros(len(faces))
            bare = np.array([bool(truth) and truth[j][0] == "without_mask" for j in best], bool)
            out.append({"photo": k, "scale": scale, "faces": faces, "X": X, "iou": iou,
                        "truth": truth, "bare": bare})
    return out


def _labelled(rows, face_iou: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the verifier sees of the proposals of ``rows`` that are clearly a face (IoU >=
    ``face_iou``: label 1) or background (IoU < 0.25: 0), their labels, and weights that sum
    to 1: half for background, a quarter each for masked and unmasked faces (the unmasked are
    few, and a missed one counts as much)."""
    rows = [r for r in rows if r["X"] is not None]
    X = np.concatenate([r["X"] for r in rows])
    iou = np.concatenate([r["iou"] for r in rows])
    bare = np.concatenate([r["bare"] for r in rows])
    label = np.where(iou >= face_iou, 1, np.where(iou < 0.25, 0, -1))
    X, y, bare = X[label >= 0], label[label >= 0], bare[label >= 0]
    weight = np.where(y == 0, 0.5 / max(1, (y == 0).sum()), 0.0)
    for group in (bare, ~bare):
        weight[(y == 1) & group] = 0.25 / max(1, ((y == 1) & group).sum())
    return X, y, weight


def _best_threshold(rows, values, settings) -> tuple[float, float, dict] | None:
    """The verifier threshold (one of 401 quantiles of ``values``) that finds most faces
    (mean recall of masked and unmasked) at precision ``settings["min_precision"]`` or
    more: ``(mean recall, threshold, figures)``, or None if none reaches it.

    The figures are :func:`_detection_figures` of :func:`_kept` at each threshold, counted by
    :func:`_tallies`, which measures each photo's box overlaps once instead of 401 times.
    """
    thresholds = np.unique(np.quantile(np.concatenate(values), np.linspace(0, 1, 401)))
    n = Counter()
    hits, false = np.zeros((len(thresholds), len(CLASSES)), int), np.zeros(len(thresholds), int)
    for row, v in zip(rows, values):
        n = n + match_faces([], row["truth"], settings["min_side"])[0]
        h, f = _tallies(row, v, thresholds, settings["min_side"])
        hits, false = hits + h, false + f
    best = None
    for t, hit, wrong in zip(thresholds, hits, false):
        found = int(hit.sum())
        m = {f"recall_{c}": round(int(k) / n[c], 4) for c, k in zip(CLASSES, hit) if n[c]}
        m["precision"] = round(found / max(1, found + int(wrong)), 4)
        m["faces"] = dict(n)
        score = (m.get("recall_with_mask", 0) + m.get("recall_without_mask", 0)) / 2
        if m["precision"] >= settings["min_precision"] and (best is None or score > best[0]):
            best = (score, round(float(t), 6), m)
    return best


def _tallies(row, values, thresholds, min_side: int, iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """Faces found per class (columns in ``CLASSES`` order) and false detections in one photo,
    at each threshold: its proposals whose value is at least it, duplicates merged as
    :func:`maskhog.detect.merge_duplicates` does, matched as :func:`match_faces` does."""
    faces, truth = row["faces"], row["truth"]
    hits, false = np.zeros((len(thresholds), len(CLASSES)), int), np.zeros(len(thresholds), int)
    if not faces:
        return hits, false
    values = np.asarray(values)
    same = _pairwise(faces, [f.box for f in faces], lambda inter, a, b:
                     (inter >= DUPLICATE_IOU * (a + b - inter)) | (inter >= DUPLICATE_COVER * np.minimum(a, b)))
    overlap = _pairwise(faces, [t[1:] for t in truth], lambda inter, a, b: np.divide(
        inter, a + b - inter, out=np.zeros_like(inter), where=a + b - inter > 0))
    counted = [min(x2 - x1, y2 - y1) >= min_side for _, x1, y1, x2, y2 in truth]
    column = [CLASSES.index(label) for label, *_ in truth]
    nms_order = sorted(range(len(faces)), key=lambda i: (faces[i].pose, -faces[i].score))
    done = {}
    for k, t in enumerate(thresholds):
        wanted = values >= t
        key = int(wanted.sum())   # the kept set shrinks as the threshold rises
        if key not in done:
            kept = []
            for i in nms_order:
                if wanted[i] and not same[i, kept].any():
                    kept.append(i)
            hit, wrong = np.zeros(len(CLASSES), int), 0
            free = np.ones(len(truth), bool)
            for i in sorted(kept, key=lambda i: -faces[i].score):
                o = np.where(free, overlap[i], 0.0)
                if not len(o) or o.max() < iou:
                    wrong += 1
                    continue
                j = np.flatnonzero(o == o.max())[-1]   # match_faces keeps the last of equals
                free[j] = False
                hit[column[j]] += counted[j]
            done[key] = hit, wrong
        hits[k], false[k] = done[key]
    return hits, false


def _pairwise(faces, boxes, rule) -> np.ndarray:
    """``rule(intersection, area of each face's box, area of each box)`` over all pairs."""
    a = np.array([f.box for f in faces], float).reshape(-1, 4)[:, None]
    b = np.array(boxes, float).reshape(-1, 4)[None]
    inter = (np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
             * np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None))
    return rule(inter, (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]),
                (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]))


def _fit_verifier(rows, C: float) -> tuple[np.ndarray, float]:
    """A linear SVM on the proposals of ``rows``: weights (standardisation folded in), intercept.

    Proposals labelled and weighed by :func:`_labelled`.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y, weight = _labelled(rows)
    scaler = StandardScaler().fit(X)
    svm = LinearSVC(C=C, dual=False, max_iter=5000)
    svm.fit(scaler.transform(X), y, sample_weight=weight * len(y))
    coef = svm.coef_[0] / scaler.scale_   # one dot product at run time
    return coef, float(svm.intercept_[0] - coef @ scaler.mean_)


def _kept(rows, values, t) -> list:
    """``[(proposals whose value is >= t, duplicates merged; annotated faces)]`` per photo."""
    return [(merge_duplicates([f for f, v in zip(r["faces"], v) if v >= t]), r["truth"])
            for r, v in zip(rows, values)]


def _alone(rows, threshold) -> list:
    """``[(the templates' faces at ``threshold``, annotated faces)]`` per photo."""
    return [(merge_duplicates([f for f in r["faces"] if f.score >= threshold]), r["truth"]) for r in rows]


def _test_figures(rows, values, threshold, fallback, settings, scales, step, name="threshold") -> dict:
    """A verifier record's test figures: at scale 1 and each other scale, with the verifier
    (``values`` per row, kept from ``threshold``) and with the templates alone (from their own
    threshold ``fallback``); and at scale 1 at the thresholds ``step`` and ``2 step`` around
    it (the curve's entries name the threshold ``name``)."""
    def figures(scale, t=threshold, alone=False):
        at = [(r, v) for r, v in zip(rows, values) if r["scale"] == scale]
        kept = (_alone([r for r, _ in at], fallback) if alone
                else _kept([r for r, _ in at], [v for _, v in at], t))
        return _detection_figures(kept, settings["min_side"])

    return {"test": figures(1.0),
            "test_templates_alone": {"threshold": fallback, **figures(1.0, alone=True)},
            "test_other_scales": {str(sc): {"verifier": figures(sc), "templates_alone": figures(sc, alone=True)}
                                  for sc in scales if sc != 1},
            "test_curve": [{name: round(float(t), 4), **{k: v for k, v in figures(1.0, t).items() if k != "faces"}}
                           for t in threshold + step * np.array([-2.0, -1.0, 0.0, 1.0, 2.0])]}


def train_verifier(scenes, *, templates=None, out, seed: int = 0, settings=VERIFIER,
                   log_fn=print) -> dict:
    """Fit the face verifier on what the templates propose in the training photos.

    The photos are split as for the templates (:func:`image_split`). The
    templates propose faces at ``settings["candidate_threshold"]`` in the
    training and validation photos, as they are and enlarged
    (``settings["scales"]``), and a linear SVM learns which are faces
    (:func:`_fit_verifier`). Its threshold is picked on out-of-fold scores
    (5 folds of those photos, by photo): the one that finds most faces (mean
    recall of masked and unmasked) at precision ``settings["min_precision"]``
    or more. The test photos give the figures, next to the templates alone
    at their own threshold.

    Returns the training record, also kept in the file's header.
    """
    from .crops import CropSpec
    from .training import COLOR_FEATURES
    from .verify import FaceVerifier

    start = time.time()
    crop, features = CropSpec(64, 0.0, False, color=True), COLOR_FEATURES
    boxed, (train, val, test) = _split_scenes(scenes, seed)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    proposer = MaskHog(folder=templates, verifier=False)
    fallback = proposer.threshold
    scales = tuple(settings.get("scales", (1.0,)))
    log_fn(f"verifier: proposals in {len(train) + len(val)} training and {len(test)} test photos, "
           f"at scales {scales}")
    low = settings["candidate_threshold"]
    fit_rows = _proposals(train + val, photos, proposer, low, crop, features, scales)
    test_rows = _proposals(test, photos, proposer, low, crop, features, scales)

    def values(rows, coef, intercept):
        return [r["X"] @ coef + intercept if r["X"] is not None else np.zeros(0) for r in rows]

    folds = np.array([r["photo"] for r in fit_rows]) % 5   # a photo's scales in one fold
    oof = [None] * len(fit_rows)
    for k in range(5):
        coef, intercept = _fit_verifier([r for r, f in zip(fit_rows, folds) if f != k], settings["C"])
        for i in np.flatnonzero(folds == k):
            oof[i] = values([fit_rows[i]], coef, intercept)[0]
    alone_fit = _detection_figures(_alone([r for r in fit_rows if r["scale"] == 1], fallback),
                                   settings["min_side"])
    best = _best_threshold(fit_rows, oof, settings)
    if best is None:
        raise RuntimeError(f"no verifier threshold reaches precision {settings['min_precision']} "
                           "on the training photos")
    threshold = best[1]
    coef, intercept = _fit_verifier(fit_rows, settings["C"])
    log_fn(f"verifier: threshold {threshold} (out-of-fold: {best[2]})")
    test_values = values(test_rows, coef, intercept)

    record = {"settings": dict(settings), "seed": seed, "threshold": threshold,
              "photos": {"fit": len({r["photo"] for r in fit_rows}),
                         "test": len({r["photo"] for r in test_rows})},
              "out_of_fold": best[2], "templates_alone_on_fit_photos": alone_fit,
              **_test_figures(test_rows, test_values, threshold, fallback, settings, scales, step=0.2),
              "seconds": round(time.time() - start, 1)}
    FaceVerifier(coef, intercept, threshold, settings["candidate_threshold"], crop=crop,
                 features=features, header={"record": record}).save(out)
    log_fn(f"verifier: {record}")
    return record
