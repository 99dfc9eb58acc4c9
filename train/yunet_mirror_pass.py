"""Study: would YuNet run on the photo and on its mirror image find more faces (issue 32)?

    python train/yunet_mirror_pass.py [--data ../shared/data] [--frames 50] [--halvings 10]

YuNet learned mirrored faces too, yet scores a face and its mirror image differently; a second
pass on the mirrored photo is the usual test-time trick of detectors. Each of YuNet's boxes (from
score 0.05) is paired with the mirrored pass's box it overlaps most (IoU >= 0.5, one to one); a
pair becomes one box (their mean) whose log-odds are the mean or the larger of the two; a box
without a partner counts its partner at the floor 0.05. Boxes from YuNet's floor 0.3 are judged
by the shipped verifier and rule, as :mod:`detector_speed_study` judges its candidates.

Two measures, both into ``train/yunet_mirror_pass.json``; the test photos are never read:

1. ``held_out_to_validation``: k and the threshold chosen on the verifier's held-out fifth
   (:func:`maskhog.training.yunet_rule.choose`), measured on the validation photos, at that rule
   and at validation's own threshold for precision 0.90. Validation chose the shipped network's
   fine-tuning epoch, which favours the shipped pass there.
2. ``halvings``: the held-out fifth and validation pooled (178 photos), k and the threshold chosen
   on a random half and measured on the other, both ways, ``--halvings`` times: every figure is
   one the rule never saw.

And the time a frame of one more YuNet forward (the mirrored pass) against the detector's and
dlib's, on validation photos letterboxed to 640x480, one thread. About 22 minutes on one
core, nearly all of it the halvings' threshold search.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "benchmarks"))

import detector_speed_study as speed  # noqa: E402
from compare_baselines import letterbox  # noqa: E402

from maskhog.boxes import pairwise_iou  # noqa: E402
from maskhog.detect import make_detector  # noqa: E402
from maskhog.detect.yunet import log_odds  # noqa: E402
from maskhog.io import read_image  # noqa: E402
from maskhog.training.scenes import split_scenes  # noqa: E402
from maskhog.training.yunet_rule import YUNET_RULE, choose, figures  # noqa: E402

FLOOR = 0.05   # both passes' boxes from this score: a face's partner is nearly always there
PAIR_IOU = 0.5
CANDIDATES = {"shipped: the photo alone": "photo", "the mirrored photo alone": "mirror",
              "both, mean log-odds": "mean", "both, larger log-odds": "max"}


def both_passes(yunet, image):
    """YuNet's boxes and log-odds on ``image`` and on its mirror image, the latter mapped back."""
    b1, s1 = yunet.raw(image, FLOOR)
    b2, s2 = yunet.raw(np.ascontiguousarray(image[:, ::-1]), FLOOR)
    w = image.shape[1]
    b2 = np.stack([w - b2[:, 2], b2[:, 1], w - b2[:, 0], b2[:, 3]], 1) if len(b2) else b2.reshape(0, 4)
    return b1, log_odds(s1), b2, log_odds(s2)


def combined(b1, z1, b2, z2, how):
    """One box per face of both passes: pairs (best IoU first, one to one) averaged, their
    log-odds combined by ``how``; an unpaired box's partner counts at :data:`FLOOR`."""
    pairs, used1, used2 = [], set(), set()
    if len(b1) and len(b2):
        m = pairwise_iou(b1, b2)
        for i, j in sorted(zip(*np.nonzero(m >= PAIR_IOU)), key=lambda ij: -m[ij]):
            if i not in used1 and j not in used2:
                used1.add(i), used2.add(j), pairs.append((i, j))
    join = (lambda a, b: (a + b) / 2) if how == "mean" else max
    floor = float(log_odds(FLOOR))
    boxes = [(b1[i] + b2[j]) / 2 for i, j in pairs]
    z = [join(z1[i], z2[j]) for i, j in pairs]
    for b, zz, used in ((b1, z1, used1), (b2, z2, used2)):
        boxes += [b[i] for i in range(len(b)) if i not in used]
        z += [join(zz[i], floor) for i in range(len(b)) if i not in used]
    return np.array(boxes).reshape(-1, 4), np.array(z)


def collect(det, photos, paths):
    """Per photo, each candidate's boxes with YuNet's log-odds and the verifier's odds of each
    crop and its mirror image, in :func:`detector_speed_study.candidate_rows`'s form."""
    v = det.yunet_verifier
    out = []
    for path in paths:
        image = read_image(path)
        b1, z1, b2, z2 = both_passes(det.yunet, image)
        passes = {"photo": (b1, z1), "mirror": (b2, z2),
                  **{how: combined(b1, z1, b2, z2, how) for how in ("mean", "max")}}
        row = {"truth": [(label, *box) for label, box in photos[path]], "passes": {}}
        for name, (boxes, z) in passes.items():
            row["passes"][name] = speed.judged_pass(v, image, boxes, z, 1 / (1 + np.exp(-z)))
        out.append(row)
    return out


def spec(name):
    return {"pass": CANDIDATES[name], "floor": 0.3, "mirror": True}


def held_out_to_validation(data, rule):
    return {name: speed.candidate_figures(data, spec(name), rule) for name in CANDIDATES}


def halvings(data, rule, n, seed=0):
    rows = data["held"] + data["val"]
    rng = np.random.default_rng(seed)
    cuts = [rng.permutation(len(rows)) for _ in range(n)]
    out = {}
    for name in CANDIDATES:
        rr, oo = speed.candidate_rows(rows, spec(name))
        got = []
        for perm in cuts:
            half = len(perm) // 2
            for a, b in ((perm[:half], perm[half:]), (perm[half:], perm[:half])):
                best = choose([rr[i] for i in a], [oo[i] for i in a], rule, YUNET_RULE["weights"])
                f = figures([rr[i] for i in b], [oo[i] for i in b], best[1], best[2], rule, sizes=True)
                got.append((f["with_mask"], f["without_mask"], f["precision"], f["sizes"]["96+"]))
        g = np.array(got)
        out[name] = {"with_mask": round(g[:, 0].mean(), 4), "without_mask": round(g[:, 1].mean(), 4),
                     "mean_recall": round(g[:, :2].mean(), 4), "precision": round(g[:, 2].mean(), 4),
                     "precision_lowest": round(g[:, 2].min(), 4), "96+": round(g[:, 3].mean(), 4)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--halvings", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "yunet_mirror_pass.json")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photos, (train, val, _) = split_scenes([args.data / "scenes"])
    held = [p for k, p in enumerate(train + val) if k % 5 == YUNET_RULE["held_out"]]
    det, dlib = make_detector("maskhog"), make_detector("dlib", upsample=0)
    rule = det.rules["yunet"]
    data = {"held": collect(det, photos, held), "val": collect(det, photos, val)}
    record = {"photos": {"held_out": len(held), "validation": len(val)},
              "held_out_to_validation": held_out_to_validation(data, rule),
              "halvings": {"n": args.halvings, **halvings(data, rule, args.halvings)}}
    frames = [letterbox(read_image(p))[0] for p in val[:args.frames]]
    times = speed.best_of({"dlib stock detector": dlib.detect, "detector (MaskHog.detect)": det.detect,
                           "one more YuNet pass (the mirrored frame)": lambda f: det.yunet.raw(f[:, ::-1].copy())},
                          frames, 3)
    record["ms_per_frame"] = {"frames": len(frames), **times}
    print(json.dumps(record, indent=1, default=float))
    args.out.write_text(json.dumps(record, indent=1, default=float) + "\n")


if __name__ == "__main__":
    sys.exit(main())
