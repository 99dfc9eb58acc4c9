"""Training maskhog's fHOG templates: sliding-window detectors for faces with and without masks.

dlib trains fHOG sliding-window detectors (``dlib.train_simple_object_detector``)
but, fed whole crowd photos, it runs out of memory, demands one aspect ratio,
and refuses boxes its image pyramid cannot reach. So the faces are prepared
for it first (docs/design.md#detector-fhog):

1. :func:`maskhog.training.scenes.image_split` holds out whole photos (20% test, 10% validation);
2. every face box becomes a square of the same area (:func:`maskhog.boxes.square_of_area`);
3. :func:`scene_chips` cuts, around each face of 16 px or more, a chip of the
   photo rescaled so that the face is 1.0-1.3 times the detection window;
   faces in a chip that are too small, cut by its border or overlapping are
   marked "ignore", and each photo also gives one whole, shrunk "context"
   chip (background at a coarse scale);
4. :func:`pasted_chips` pastes tight face photos (class folders, groups not
   held out) into random scene backgrounds: more masked faces, more poses;
5. :func:`train_template` writes dlib's XML and trains, dropping the few
   chips dlib still calls impossible.

:func:`train_templates` makes both templates of maskhog's shipped detector
(``maskhog/models/face_fhog48_*.svm``): one from the scene chips, one with
pasted faces too.
"""

from __future__ import annotations

import logging
import random
import re
import resource
import time
from pathlib import Path

import numpy as np

from ..boxes import overlap, square_of_area
from ..io import ImageError, read_image, to_gray
from ..labels import CLASSES
from .scenes import split_scenes, training_face_photos

log = logging.getLogger("maskhog")

__all__ = ["RECIPE", "scene_chips", "pasted_chips", "write_dlib_xml", "train_template", "train_templates"]

#: The shipped templates: file name and settings (window side, SVM C, context chip side,
#: number of pasted faces).
RECIPE = (("face_fhog48_scenes.svm", {"window": 48, "C": 1000.0, "ctx_side": 400, "paste": 0}),
          ("face_fhog48_paste.svm", {"window": 48, "C": 300.0, "ctx_side": 640, "paste": 1500}))


def _gray(path):
    """The photo as gray, or ``None`` (with a warning naming it) if it cannot be read."""
    try:
        return to_gray(read_image(path))
    except ImageError as exc:
        log.warning("skipped %s", exc)
        return None


def _separate(pos):
    """Positives that overlap a kept one much (IoU over 0.3, or over half the smaller) become
    ignore boxes: dlib cannot label both. Boxes are ``(left, top, width, height, ...)``."""
    def corners(r):
        return r[0], r[1], r[0] + r[2], r[1] + r[3]

    kept, ignored = [], []
    for r in pos:
        for q in kept:
            inter, a, b = overlap(corners(r), corners(q))
            if inter > 0 and (inter / (a + b - inter) > 0.3 or inter / min(a, b) > 0.5):
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
        faces = [(label, *square_of_area(box)) for label, box in boxes]
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
            cx, cy, sd = square_of_area(box)
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


def train_templates(scenes, faces=None, *, out_dir, work, seed: int = 0, threads: int = 2,
                    recipe=RECIPE, max_runtime: float = 1700, log_fn=print) -> dict:
    """Make maskhog's detector templates from Pascal VOC scenes (and face photos to paste).

    Parameters
    ----------
    scenes : list of paths
        Pascal VOC folders (``images/`` + ``annotations/``); their photos are split by
        :func:`maskhog.training.scenes.image_split` and only the training part is used.
    faces : path, optional
        Class folders of tight face photos (with a ``manifest.csv`` of groups);
        30% of the groups are held out. Needed by templates that paste faces.
    out_dir, work : paths
        Where the ``.svm`` templates and the chip images go.
    recipe : sequence of (file name, settings)
        Default: :data:`RECIPE`, the shipped detector.

    Returns
    -------
    dict: per template, its training record.
    """
    pasting = [name for name, settings in recipe if settings["paste"]]
    if pasting and faces is None:
        raise ValueError(f"{', '.join(pasting)} paste face photos: give the face folders")
    photos, (train, _, _) = split_scenes(scenes, seed)
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
    return records
