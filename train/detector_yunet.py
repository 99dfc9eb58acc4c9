"""Study and recipe: YuNet as a face proposer, and one box convention for every proposer.

    python train/detector_yunet.py [--data ../shared/data] [--out maskhog/models/box_convention.json]

1. Box convention (writes ``box_convention.json``): on the training photos of the detector
   split (``maskhog.training.scenes.split_scenes``, seed 0), each proposer's boxes -- YuNet's
   from its score 0.5, the fHOG templates' from their own threshold, the proposal network's
   that the shipped CNN verifier keeps -- are matched one to one to the annotated faces
   (IoU >= 0.3, or the convention-tolerant match), and a centre shift and scale per axis are
   fitted by least squares (``maskhog.training.yunet_rule.fit_convention``, which
   ``maskhog train-detector`` runs too).
2. Combinations: {fHOG scene template (T), proposal network (P), YuNet (Y)} x {the shipped
   CNN verifier's score rule, YuNet's own score, both (the verifier's score plus w times
   YuNet's log-odds)}, each kept box moved onto the convention, duplicates merged, matched at
   IoU >= 0.4. The threshold of each is the one that finds the most faces (mean of the masked
   and unmasked recall) at precision >= 0.90 on the validation photos; the test photos give the
   figures, never the choice. Writes ``train/detector_yunet.json``.
"""

import argparse
import itertools
import json
import time
from pathlib import Path

import cv2
import numpy as np

from maskhog import tuning
from maskhog.boxes import Face, merge_duplicates
from maskhog.detect import make_detector
from maskhog.detect.convention import BoxRule, save_rules
from maskhog.detect.yunet import YuNet, log_odds
from maskhog.io import read_image
from maskhog.training.metrics import match_faces
from maskhog.training.scenes import split_scenes
from maskhog.training.yunet_rule import fit_convention, proposals, verifier_odds

HERE = Path(__file__).resolve().parent
MIN_SIDE = 24
YUNET_FROM = 0.05     # YuNet's proposals are looked at from this score


def cache(det, yunet, photos, paths):
    """Per photo: its annotated faces and every proposal with its source, proposer score and
    verifier log-odds."""
    rows = []
    for path in paths:
        image = read_image(path)
        props = proposals(det, yunet, image, YUNET_FROM)
        rows.append({"truth": [(label, *box) for label, box in photos[path]], "props": props,
                     "odds": verifier_odds(det.verifier, image, [b for _, b, _ in props])})
    return rows


def figures(rows, value, t, rules, sources, tolerant=False):
    """Recall per class and precision when every proposal of ``sources`` whose ``value`` is at
    least ``t`` is kept, moved by its rule, and duplicates merged."""
    from collections import Counter

    n, hit, false = Counter(), Counter(), 0
    for r in rows:
        kept = []
        for (src, box, s), o in zip(r["props"], r["odds"]):
            if src in sources:
                v = value(src, s, o)
                if v >= t:
                    kept.append(Face(rules[src].apply(box), float(v)))
        a, b, c = match_faces(merge_duplicates(kept), r["truth"], MIN_SIDE, tolerant=tolerant)
        n, hit, false = n + a, hit + b, false + c
    found = sum(hit.values())
    return {"with_mask": hit["with_mask"] / max(1, n["with_mask"]),
            "without_mask": hit["without_mask"] / max(1, n["without_mask"]),
            "incorrect_mask": hit["incorrect_mask"] / max(1, n["incorrect_mask"]),
            "precision": found / max(1, found + false), "faces": dict(n)}


def best_threshold(rows, value, rules, sources, grid):
    """The threshold of ``grid`` with the highest mean masked/unmasked recall at precision >= 0.90."""
    best = None
    for t in grid:
        f = figures(rows, value, t, rules, sources)
        if f["precision"] >= 0.90:
            m = (f["with_mask"] + f["without_mask"]) / 2
            if best is None or m > best[0]:
                best = (m, t, f)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models")
    parser.add_argument("--yunet-from", type=float, default=0.2,
                        help="YuNet's proposals are looked at from this score (0.2 keeps the detector "
                             "within 1.5x dlib's time on 640x480 frames; 0.05 costs 1.8x)")
    parser.add_argument("--ship", default="yunet",
                        help="the proposers the shipped rule may use, '+'-joined: those within the speed limit")
    parser.add_argument("--train-photos", type=int, default=0, help="fit the rules on this many (0: all)")
    args = parser.parse_args()
    global YUNET_FROM
    YUNET_FROM = args.yunet_from
    cv2.setNumThreads(1)
    photos, (train, val, test) = split_scenes([args.data / "scenes"])
    det = make_detector("maskhog", yunet=False)
    yunet = YuNet()
    start = time.perf_counter()
    rules, matched = fit_convention(det, yunet, photos, train[:args.train_photos] if args.train_photos else train)
    print("rules", rules, matched, f"{time.perf_counter() - start:.0f} s", flush=True)
    save_rules(args.out, rules, {"fitted_on": f"{sum(matched.values())} matched boxes of the training scene photos "
                                 "(train/detector_yunet.py)", "matched": matched})
    val_rows, test_rows = cache(det, yunet, photos, val), cache(det, yunet, photos, test)
    v = det.verifier
    w_t = v.template_weight
    identity = {s: BoxRule() for s in rules}

    def verifier(src, s, o):
        return o + w_t * (s if src == "templates" else tuning.NETWORK_SCORE)

    def both(w):
        return lambda src, s, o: verifier(src, s, o) + (w * log_odds(s) if src == "yunet" else 0.0)

    def own(src, s, o):
        return s

    score_grid = np.round(np.arange(0.05, 1.0, 0.025), 3)
    odds_grid = np.round(np.arange(-12, 12, 0.25), 2)
    results = []
    combos = [c for k in (1, 2, 3) for c in itertools.combinations(("templates", "network", "yunet"), k)]
    for sources in combos:
        kinds = [("verifier", verifier, odds_grid)]
        if "yunet" in sources:
            kinds += [(f"verifier + {w} yunet log-odds", both(w), odds_grid) for w in (1, 2, 4)]
        if sources == ("yunet",):
            kinds.append(("yunet score", own, score_grid))
        for name, value, grid in kinds:
            for rule_name, rr in (("convention", rules), ("own boxes", identity)):
                chosen = best_threshold(val_rows, value, rr, sources, grid)
                if chosen is None:
                    continue
                m, t, fv = chosen
                ft = figures(test_rows, value, t, rr, sources)
                ftt = figures(test_rows, value, t, rr, sources, tolerant=True)
                row = {"proposers": "+".join(sources), "score": name, "boxes": rule_name, "threshold": float(t),
                       "validation": fv, "test": ft, "test_tolerant": ftt}
                results.append(row)
                print(f"{row['proposers']:24s} {name:30s} {rule_name:10s} t={t:6.2f} val {m:.3f} "
                      f"({fv['with_mask']:.3f}/{fv['without_mask']:.3f} at {fv['precision']:.3f}) test "
                      f"{ft['with_mask']:.3f}/{ft['without_mask']:.3f}/{ft['incorrect_mask']:.2f} at "
                      f"{ft['precision']:.3f}; tolerant {ftt['with_mask']:.3f}/{ftt['without_mask']:.3f} at "
                      f"{ftt['precision']:.3f}", flush=True)
    (HERE / "detector_yunet.json").write_text(json.dumps(
        {"rules": {k: vars(r) for k, r in rules.items()}, "matched": matched, "results": results},
        indent=1, default=float) + "\n")
    write_rule(results, args.out, args.ship, w_t * tuning.NETWORK_SCORE)


def write_rule(results, folder, ship="yunet", offset=0.0):
    """Write the default detector's YuNet score rule (``face_yunet.json``): of the combinations
    of the proposers ``ship`` (those within the speed limit) in the box convention, the one
    with the highest validation mean recall. Its threshold judges our proposers' boxes in the
    verifier's own rule; YuNet's boxes, scored by the verifier's log-odds plus the weight times
    YuNet's log-odds, are cut at it less ``offset`` (the template score that stood for them in
    this study). YuNet alone (crops without colour) at the threshold chosen for its own score."""
    def mean(r):
        return (r["validation"]["with_mask"] + r["validation"]["without_mask"]) / 2

    ours = [r for r in results if r["boxes"] == "convention" and r["proposers"] == ship
            and r["score"].startswith("verifier +")]
    best = max(ours, key=mean)
    alone = next(r for r in results if r["boxes"] == "convention" and r["score"] == "yunet score")
    rule = {"proposers": best["proposers"].split("+"), "from_score": YUNET_FROM, "threshold": best["threshold"],
            "yunet_weight": float(best["score"].split()[2]), "yunet_threshold": best["threshold"] - offset,
            "alone_threshold": alone["threshold"],
            "speed_limit": f"proposers {ship}: within 1.5x dlib's time on 640x480 frames from YuNet score {YUNET_FROM}",
            "chosen_on": "validation photos of the detector split (train/detector_yunet.py)",
            "validation": best["validation"], "test": best["test"]}
    (Path(folder) / "face_yunet.json").write_text(json.dumps(rule, indent=1) + "\n")


if __name__ == "__main__":
    main()
