"""Study: why the default detector misses faces on the validation photos of the detector split.

    python train/yunet_misses.py [--data ../shared/data]

Each annotated face of >= 24 px that ``make_detector("maskhog")`` does not find (IoU >= 0.4,
as the benchmarks match) is put in the first bucket that explains it:

* ``convention``: a kept box frames it by another convention (the tolerant match) or, moved
  back to YuNet's own framing, at IoU >= 0.4: the box rule or the match lost it;
* ``rejected``: a YuNet box from the detector's floor frames it (convention applied), but the
  score rule turned it down;
* ``below floor``: YuNet frames it only below the floor (from 0.02);
* ``larger input``: only YuNet on the photo enlarged 1.5x (or shrunk to 0.5 for large faces) frames it;
* ``no proposal``: nothing frames it.

Prints the counts per class and per size band, and writes ``train/yunet_misses.json``.
Validation photos only: the choice of a fix must never see the test photos.
"""

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from maskhog.detect import make_detector
from maskhog.io import read_image
from maskhog.training.metrics import match_boxes, same_face
from maskhog.training.scenes import split_scenes

HERE = Path(__file__).resolve().parent
MIN_SIDE, IOU = 24, 0.4


def band(side):
    return "24-48" if side < 48 else "48-96" if side < 96 else "96+"


def frames(boxes, box, rule=None):
    """Whether any of ``boxes`` (moved by ``rule``) frames ``box`` at IoU >= 0.4."""
    return any(same_face(rule.apply(b) if rule else b, box, IOU) > 0 for b in boxes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--split", choices=("val", "train"), default="val")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photos, (train, val, _) = split_scenes([args.data / "scenes"])
    det = make_detector("maskhog")
    rule, yunet = det.rules["yunet"], det.yunet
    counts, by_band, examples = defaultdict(Counter), defaultdict(Counter), []
    for path in (val if args.split == "val" else train):
        image = read_image(path)
        truth = [(label, *box) for label, box in photos[path]]
        found = det.detect(image)
        hit, counted, _ = match_boxes(found, truth, MIN_SIDE, IOU)
        missed = [t for t, h, c in zip(truth, hit, counted) if c and not h]
        for label, *box in truth:
            if min(box[2] - box[0], box[3] - box[1]) >= MIN_SIDE:
                by_band[band(min(box[2] - box[0], box[3] - box[1]))]["faces"] += 1
        if not missed:
            continue
        floor_boxes, _ = yunet.raw(image)
        low_boxes, _ = yunet.raw(image, 0.02)
        big = {}
        for f in (1.5, 0.5):
            b, _ = yunet.raw(cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR), 0.2)
            big[f] = b / f
        # YuNet's own boxes of the faces the detector kept (moved, they are the kept boxes).
        kept_raw = [b for b in floor_boxes if any(same_face(f.box, rule.apply(b), 0.9) > 0 for f in found)]
        for label, *box in missed:
            side = min(box[2] - box[0], box[3] - box[1])
            if any(same_face(f.box, box, IOU, tolerant=True) > 0 for f in found) or frames(kept_raw, box):
                why = "convention"
            elif frames(floor_boxes, box, rule):
                why = "rejected"
            elif frames(low_boxes, box, rule):
                why = "below floor"
            elif frames(big[1.5], box, rule) or frames(big[0.5], box, rule):
                why = "larger input" if frames(big[1.5], box, rule) else "smaller input"
            else:
                why = "no proposal"
            counts[label][why] += 1
            by_band[band(side)][why] += 1
            examples.append({"photo": Path(path).name, "label": label, "box": box, "side": side, "why": why})
    total = Counter()
    for c in counts.values():
        total.update(c)
    print("misses by cause:", dict(total))
    for label, c in counts.items():
        print(f"  {label}: {dict(c)}")
    for b in ("24-48", "48-96", "96+"):
        print(f"  {b}: {dict(by_band[b])}")
    (HERE / "yunet_misses.json").write_text(json.dumps(
        {"split": args.split, "by_class": counts, "by_size": by_band, "misses": examples}, indent=1, default=int) + "\n")


if __name__ == "__main__":
    main()
