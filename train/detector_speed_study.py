"""Study: where the default detector's time goes, and whether it can be spent on more faces (issue 32).

    python train/detector_speed_study.py [--data ../shared/data] [--frames 50] [--reps 3]

Three parts, each written into ``train/detector_speed_study.json``:

1. ``time``: the detector's parts on 640x480 frames (validation photos letterboxed as the
   benchmarks do, one thread, best of ``--reps`` passes in turns with dlib's stock detector):
   YuNet's forward, the verifier's crops, colour check and forwards (the crop, its mirror image),
   the box convention and the duplicate merge, and the later looks (``FaceSearch``).
2. ``faces``: each candidate's rule chosen on the verifier's held-out fifth
   (:func:`maskhog.training.yunet_rule.choose`: the most faces at precision >= 0.90) and measured
   there and on the validation photos (faces of 24 px and more, IoU 0.4): mean of masked and
   unmasked recall, per class, per size band), at that rule and, since it gives the validation
   photos a precision under 0.90 (0.877 for the shipped rule), at the validation threshold with
   the most faces at precision >= 0.90 for the same k (``validation_at_090``). Candidates: the
   verifier's odds with the crop's mirror image (as shipped) or without; YuNet's floor 0.3
   (shipped), 0.2, 0.1, 0.4, 0.5; boxes YuNet scores 0.95 (0.98) or more kept without the
   verifier; YuNet at 1.25x and 1.5x of the photo; a second pass on the photo enlarged 2x (or
   1.5x) whose boxes under 48 px are added.
3. ``candidates``: each candidate built as a detector and timed against the shipped one and dlib
   on the same frames in the same passes (ms a frame, x dlib).

The test photos are never looked at. About 20 minutes on two shared cores (2026-12-07), 3 of them
YuNet and the verifier on the 178 photos; ``--part candidates --reps 7 --only NAME`` times a few
candidates again, into ``candidates_only``. The times of one run on a busy machine move by 10-20%:
compare only figures of the same run.
"""

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

from compare_baselines import letterbox  # noqa: E402

from maskhog.boxes import Face, merge_duplicates  # noqa: E402
from maskhog.classify import neutral_chroma  # noqa: E402
from maskhog.crops import crop_faces  # noqa: E402
from maskhog.detect import FaceSearch, make_detector  # noqa: E402
from maskhog.features import color_features  # noqa: E402
from maskhog.detect.yunet import log_odds  # noqa: E402
from maskhog.io import read_image  # noqa: E402
from maskhog.training.metrics import detection_figures  # noqa: E402
from maskhog.training.scenes import split_scenes  # noqa: E402
from maskhog.training.yunet_rule import YUNET_RULE, choose, figures, mean_recall  # noqa: E402

#: YuNet passes computed once per photo: (scale of the photo, score floor). Lower floors of the
#: same pass are its boxes filtered by score (NMS keeps the best box of a group, so a box from
#: 0.3 is never hidden by one below 0.3).
PASSES = {"x1": (1.0, 0.05), "x1.25": (1.25, 0.2), "x1.5": (1.5, 0.2), "x2": (2.0, 0.2)}
SMALL = 48   # a second pass's boxes kept: shorter side under this, in the photo's pixels
TRUSTED = 100.0   # the odds given to a box kept without the verifier (``trust``): above every threshold


def yunet_pass(yunet, image, scale, floor):
    """YuNet's boxes (in ``image``'s pixels, YuNet's framing) and scores on ``image`` resized by ``scale``."""
    if scale != 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    boxes, scores = yunet.raw(image, floor)
    return boxes / scale, scores


def judged_pass(verifier, image, boxes, z, p):
    """One pass's boxes (rounded to pixels) with YuNet's log-odds ``z`` and score ``p``, and the
    verifier's odds of each box's crop (``o``) and of its mirror image (``m``)."""
    boxes = np.round(boxes).astype(int)
    if not len(boxes):
        return {"boxes": boxes, "z": z, "p": p, "o": np.zeros(0), "m": np.zeros(0)}
    crops = crop_faces(image, [tuple(b) for b in boxes], verifier.crop)
    return {"boxes": boxes, "z": z, "p": p, "o": verifier._odds(crops),
            "m": verifier._odds(np.ascontiguousarray(crops[:, :, ::-1]))}


def collect(det, photos, paths):
    """Per photo: each pass's boxes, scores and the verifier's log-odds of each crop and its mirror."""
    v = det.yunet_verifier
    out = []
    for path in paths:
        image = read_image(path)
        row = {"truth": [(label, *box) for label, box in photos[path]], "passes": {}}
        for name, (scale, floor) in PASSES.items():
            boxes, scores = yunet_pass(det.yunet, image, scale, floor)
            row["passes"][name] = judged_pass(v, image, boxes, log_odds(scores), scores)
        out.append(row)
    return out


def candidate_rows(data, spec):
    """``(rows, odds)`` for :func:`figures`: the boxes a candidate judges, by ``spec``
    (``floor``, ``scale``, ``mirror``, ``small``: (pass, floor) of a second pass's small boxes)."""
    rows, odds = [], []
    for r in data:
        parts = [(r["passes"][spec.get("pass", "x1")], spec["floor"], None)]
        if spec.get("small"):
            name, floor = spec["small"]
            parts.append((r["passes"][name], floor, SMALL))
        faces, o = [], []
        for p, floor, under in parts:
            keep = p["p"] >= floor
            if under is not None:
                side = np.minimum(p["boxes"][:, 2] - p["boxes"][:, 0], p["boxes"][:, 3] - p["boxes"][:, 1])
                keep &= side < under
            faces += [Face(tuple(int(v) for v in b), float(z)) for b, z in zip(p["boxes"][keep], p["z"][keep])]
            o.append((p["o"][keep] + p["m"][keep]) / 2 if spec["mirror"] else p["o"][keep])
        o = np.concatenate(o)
        if spec.get("trust"):   # kept unjudged: above any threshold, in YuNet's order among themselves
            z = np.array([f.score for f in faces])
            o = np.where(z >= log_odds(spec["trust"]), TRUSTED + z, o)
        rows.append({"faces": faces, "truth": r["truth"]})
        odds.append(o)
    return rows, odds


CANDIDATES = {
    "shipped: floor 0.3, mirror": {"floor": 0.3, "mirror": True},
    "floor 0.3, no mirror": {"floor": 0.3, "mirror": False},
    "floor 0.2, mirror": {"floor": 0.2, "mirror": True},
    "floor 0.1, mirror": {"floor": 0.1, "mirror": True},
    "floor 0.4, mirror": {"floor": 0.4, "mirror": True},
    "floor 0.5, mirror": {"floor": 0.5, "mirror": True},
    "floor 0.5, YuNet >= 0.95 kept unjudged, mirror": {"floor": 0.5, "mirror": True, "trust": 0.95},
    "floor 0.5, YuNet >= 0.98 kept unjudged, mirror": {"floor": 0.5, "mirror": True, "trust": 0.98},
    "floor 0.5, YuNet >= 0.95 kept unjudged, no mirror": {"floor": 0.5, "mirror": False, "trust": 0.95},
    "YuNet at 1.25x, floor 0.3, mirror": {"pass": "x1.25", "floor": 0.3, "mirror": True},
    "YuNet at 1.5x, floor 0.3, mirror": {"pass": "x1.5", "floor": 0.3, "mirror": True},
    "+ pass at 2x for boxes < 48 px, floor 0.3, mirror": {"floor": 0.3, "mirror": True, "small": ("x2", 0.3)},
    "+ pass at 1.5x for boxes < 48 px, floor 0.3, mirror": {"floor": 0.3, "mirror": True, "small": ("x1.5", 0.3)},
}


def mean(f):
    return round(mean_recall(f), 4)


def at_precision(rows, odds, k, rule, min_precision=0.90):
    """The figures at the threshold (``k`` given) that :func:`choose` picks on ``rows`` at
    ``min_precision``: the validation photos' own operating point, since the held-out fifth's
    threshold gives them a precision under 0.90 (0.877 for the shipped rule)."""
    best = choose(rows, odds, rule, (k,), min_precision=min_precision)
    return {"threshold": best[2], **figures(rows, odds, k, best[2], rule, sizes=True)} if best else None


def candidate_figures(data, spec, rule):
    """A candidate's rule (k and threshold) chosen on ``data["held"]``'s photos, and its figures
    there and on ``data["val"]``'s, at that rule and at validation's own point for precision 0.90."""
    hr, ho = candidate_rows(data["held"], spec)
    vr, vo = candidate_rows(data["val"], spec)
    _, k, t, _ = choose(hr, ho, rule, YUNET_RULE["weights"])
    boxes = sum(len(r["faces"]) for r in vr) / len(vr)
    judged = sum(int((o < TRUSTED).sum()) for o in vo) / len(vr)
    return {"spec": spec, "yunet_weight": k, "threshold": t, "held_out": figures(hr, ho, k, t, rule, sizes=True),
            "validation": figures(vr, vo, k, t, rule, sizes=True), "validation_at_090": at_precision(vr, vo, k, rule),
            "boxes_per_validation_photo": round(boxes, 2), "judged_per_validation_photo": round(judged, 2)}


def faces_part(det, photos, held, val, log):
    rule = det.rules["yunet"]
    start = time.time()
    data = {"held": collect(det, photos, held), "val": collect(det, photos, val)}
    log(f"proposals and odds of {len(held)} held-out and {len(val)} validation photos: {time.time() - start:.0f} s")
    # The emulation against the detector itself: the shipped rule's figures both ways.
    out = {"shipped detector itself (MaskHog.detect), validation": detection_figures(
        [(det.detect(read_image(path)), [(label, *box) for label, box in photos[path]]) for path in val], 24)}
    log(f"shipped detector itself on validation: {out['shipped detector itself (MaskHog.detect), validation']}")
    for name, spec in CANDIDATES.items():
        out[name] = c = candidate_figures(data, spec, rule)
        k, t, fh, fv, f9 = c["yunet_weight"], c["threshold"], c["held_out"], c["validation"], c["validation_at_090"]
        boxes, judged = c["boxes_per_validation_photo"], c["judged_per_validation_photo"]
        log(f"{name}: k={k} t={t}; held-out {mean(fh)} ({fh['with_mask']} / {fh['without_mask']} at "
            f"{fh['precision']}, sizes {fh['sizes']}); validation at that rule {mean(fv)} ({fv['with_mask']} / "
            f"{fv['without_mask']} at {fv['precision']}), at precision 0.90 {mean(f9)} ({f9['with_mask']} / "
            f"{f9['without_mask']} at {f9['precision']}, t={f9['threshold']}, sizes {f9['sizes']}); "
            f"{boxes:.1f} boxes a photo, {judged:.1f} judged")
    return out


# --- time ---------------------------------------------------------------------------------------

def best_of(fns, frames, reps):
    """Mean ms a frame of each ``fns[name](frame)``: the best of ``reps`` passes over ``frames``, the
    functions in turns within each pass (a busy moment of the shared machine hits all of them
    alike), and the sum of each frame's best time over the passes (``per_frame_best``: what
    remains when the busy moments are left out)."""
    times = {k: [] for k in fns}
    for rep in range(reps):
        names = list(fns) if rep % 2 == 0 else list(fns)[::-1]
        for name in names:
            fn, each = fns[name], []
            for f in frames:
                start = time.perf_counter()
                fn(f)
                each.append(time.perf_counter() - start)
            times[name].append(each)
    return {k: {"best_pass": round(min(map(sum, v)) * 1000 / len(frames), 3),
                "per_frame_best": round(float(np.min(v, axis=0).sum()) * 1000 / len(frames), 3)}
            for k, v in times.items()}


def parts_part(det, dlib, frames, reps):
    """The shipped detector's time, part by part, on ``frames``."""
    v = det.yunet_verifier
    props = {id(f): det.yunet_faces(f) for f in frames}
    crops = {id(f): crop_faces(f, [x.box for x in props[id(f)]], v.crop) for f in frames}
    zs = {id(f): np.array([x.score for x in props[id(f)]]) for f in frames}

    def mirror_near(f):
        c = crops[id(f)]
        s = v._odds(c) + det.yunet_weight * zs[id(f)]
        near = np.abs(s - det.yunet_threshold) <= 4.0
        if near.any():
            v._odds(np.ascontiguousarray(c[near][:, :, ::-1]))

    kept = {id(f): [x for x in props[id(f)]] for f in frames}
    search = FaceSearch(det)
    fns = {
        "dlib stock detector": dlib.detect,
        "detector (MaskHog.detect)": det.detect,
        "YuNet forward (OpenCV's FaceDetectorYN.detect at 640x480)": lambda f: det.yunet._net((640, 480)).detect(f),
        "YuNet forward and decoding (ONNX Runtime, as the detector runs it)": det.yunet.raw,
        "YuNet proposals (raw + log-odds)": det.yunet_faces,
        "verifier: crops": lambda f: crop_faces(f, [x.box for x in props[id(f)]], v.crop),
        "verifier: colour check": lambda f: neutral_chroma(color_features(crops[id(f)])[:, -32:]),
        "verifier: forward of the crops": lambda f: v._odds(crops[id(f)]),
        "verifier: forward of the crops and the near mirrors": mirror_near,
        "verifier: forward of every mirror, batched with the crops":
            lambda f: v._odds(np.concatenate([crops[id(f)], crops[id(f)][:, :, ::-1]])),
        "verifier: whole judgement (_judge_with_yunet)":
            lambda f: det._judge_with_yunet(f, [(x, "yunet") for x in props[id(f)]]),
        "convention + merge (every proposal)": lambda f: merge_duplicates(det.in_convention(kept[id(f)], "yunet")),
        "FaceSearch.find_faces (with the later looks)": search.find_faces,
    }
    for f in frames[:3]:
        for fn in fns.values():
            fn(f)
    times = best_of(fns, frames, reps)
    found = [det.detect(f) for f in frames]
    return {"ms_per_frame": times, "boxes_per_frame": round(float(np.mean([len(p) for p in props.values()])), 2),
            "frames_without_a_face (later looks run)": int(sum(not x for x in found)),
            "frames": len(frames)}


class Candidate:
    """The shipped detector with a candidate's YuNet passes and verifier settings (the study's only:
    what wins goes into maskhog/detect)."""

    def __init__(self, det, spec):
        self.det = copy.copy(det)
        self.spec = spec
        self.v = copy.copy(det.yunet_verifier)
        self.v.mirror = spec["mirror"]
        self.det.yunet_verifier = self.v
        self.det.yunet = copy.copy(det.yunet)
        self.det.yunet.threshold = min(spec["floor"], spec.get("small", (None, 1))[1])
        scale = PASSES[spec.get("pass", "x1")][0]
        small = spec.get("small")
        yunet = self.det.yunet

        def faces(image):
            boxes, scores = yunet_pass(yunet, image, scale, spec["floor"])
            if small:
                b2, s2 = yunet_pass(yunet, image, PASSES[small[0]][0], small[1])
                side = np.minimum(b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1])
                boxes, scores = np.concatenate([boxes, b2[side < SMALL]]), np.concatenate([scores, s2[side < SMALL]])
            return [Face(tuple(int(round(v)) for v in b), float(z)) for b, z in zip(boxes, log_odds(scores))]

        self.det.yunet_faces = faces
        if spec.get("trust"):
            trusted, judge = float(log_odds(spec["trust"])), self.det._judge_with_yunet

            def judged(image, sourced):
                # Boxes YuNet is this sure of were kept by every rule on the held-out photos: unjudged.
                sure = [(f, s) for f, s in sourced if s == "yunet" and f.score >= trusted]
                rest = [(f, s) for f, s in sourced if not (s == "yunet" and f.score >= trusted)]
                return judge(image, rest) | {id(f) for f, _ in sure}

            self.det._judge_with_yunet = judged

    def set_rule(self, k, t):
        self.det.yunet_weight, self.det.yunet_threshold = float(k), float(t)

    def detect(self, image):
        return self.det.detect(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=50, help="validation photos as 640x480 frames for the time")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--part", choices=("all", "time", "faces", "candidates"), default="all")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="time only these candidates (with the shipped detector and dlib), into 'candidates_only'")
    parser.add_argument("--out", type=Path, default=HERE / "detector_speed_study.json")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    log = lambda s: print(s, flush=True)  # noqa: E731
    photos, (train, val, _) = split_scenes([args.data / "scenes"])
    held = [p for k, p in enumerate(train + val) if k % 5 == YUNET_RULE["held_out"]]
    det, dlib = make_detector("maskhog"), make_detector("dlib", upsample=0)
    frames = [letterbox(read_image(p))[0] for p in val[:args.frames]]
    record = json.loads(args.out.read_text()) if args.out.is_file() else {}
    record["photos"] = {"held_out": len(held), "validation": len(val), "frames": len(frames)}
    if args.part in ("all", "time"):
        record["time"] = parts_part(det, dlib, frames, args.reps)
        log(json.dumps(record["time"], indent=1))
    if args.part in ("all", "faces"):
        record["faces"] = faces_part(det, photos, held, val, log)
    if args.part in ("all", "candidates"):
        fns = {"dlib stock detector": dlib.detect, "shipped": det.detect}
        for name, c in record["faces"].items():
            if "spec" not in c or (args.only and name not in args.only):
                continue
            cand = Candidate(det, c["spec"])
            cand.set_rule(c["yunet_weight"], c["threshold"])
            fns[name] = cand.detect
        for f in frames[:3]:
            for fn in fns.values():
                fn(f)
        times = best_of(fns, frames, args.reps)
        dlib_ms = times["dlib stock detector"]
        record["candidates_only" if args.only else "candidates"] = {k: {**v, "x_dlib": round(v["best_pass"] / dlib_ms["best_pass"], 3),
                                    "x_dlib_per_frame_best": round(v["per_frame_best"] / dlib_ms["per_frame_best"], 3)}
                                for k, v in times.items()}
        log(json.dumps(record["candidates_only" if args.only else "candidates"], indent=1))
    args.out.write_text(json.dumps(record, indent=1, default=float) + "\n")


if __name__ == "__main__":
    sys.exit(main())
