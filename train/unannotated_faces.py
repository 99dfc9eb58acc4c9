"""Faces the scene annotations leave out: the pool of detections to judge, drawn for a person.

    python train/unannotated_faces.py sheets [--data ../shared/data] [--out DIR]
    python train/unannotated_faces.py label PART FACES NOT_FACES   # e.g. held 1,2,5-9 3,4
    python train/unannotated_faces.py choose [--data ../shared/data] [--write]

Most of the default detector's false detections on the held-out scene photos are faces that
nobody boxed: the annotations of ``scenes/`` leave out many faces in crowds, behind others, or
blurred (``train/detector_false_faces.py`` draws them). Counted as false, they cap the precision
every rule is chosen at, whatever it finds.

``sheets``: for the verifier's held-out fifth ("held"), the validation and the test photos of the
detector split, every box the default detector's YuNet rule keeps at a loose threshold
(:data:`POOL_THRESHOLD`, looser than any rule chosen from it) that claims no annotated face and
overlaps none (IoU <= 0.1) nor a face under 24 px, numbered on contact sheets of 50 in ``--out``
(not in the repository: they are cut from the shared photos), with the pool in ``pool.json``.

``label``: records a person's verdict on one part's sheets into ``train/unannotated_faces.json``:
the numbers that frame a human face (any pose, masked or not, blurred where still a face), those
that do not; the rest are "unsure" and count as not faces. Only boxes (file name and pixels) are
stored, and who judged them and how.

``choose``: YuNet's threshold in ``face_yunet.json`` (k kept, the pool's weight) chosen with the
judged faces counted as faces: the most faces (mean of masked and unmasked recall over both sets)
among the thresholds from the pool's at which precision is at least 0.90 on the held-out fifth
and on the validation photos each; of ties, the highest. ``--write`` puts it into
``maskhog/models/face_yunet.json``. The test photos' verdicts are for ``benchmarks/bench_detection.py``
only: nothing is chosen on them.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from maskhog.boxes import iou
from maskhog.detect import make_detector
from maskhog.detect.convention import IDENTITY, load_rules
from maskhog.detect.fhog import YUNET_RULE_FILE, models_folder
from maskhog.detect.yunet import YUNET_FILE, YuNet
from maskhog.io import read_image
from maskhog.training.metrics import claims
from maskhog.training.scenes import split_scenes
from maskhog.training.yunet_rule import YUNET_RULE, figures, kept_faces, verifier_odds, yunet_rows

HERE = Path(__file__).resolve().parent
RECORD = HERE / "unannotated_faces.json"
POOL_THRESHOLD = 1.5     # verifier log-odds + k x YuNet log-odds; the shipped rule keeps from 5.75
TILE, PER_SHEET, MIN_SIDE = 128, 50, 24


def parts(data):
    """``{part: [paths]}`` and the annotated faces, as the rule and the benchmarks split them."""
    photos, (train, val, test) = split_scenes([data / "scenes"])
    held = [p for k, p in enumerate(train + val) if k % 5 == YUNET_RULE["held_out"]]
    return {"held": held, "validation": val, "test": test}, photos


def pool(image, truth, yunet, verifier, rule, k, floor):
    """The boxes a loose rule keeps that claim and overlap no annotated face."""
    faces = yunet.scored_boxes(image, floor)
    value = verifier_odds(verifier, image, [f.box for f in faces]) + k * np.array([f.score for f in faces])
    kept = kept_faces(faces, value, POOL_THRESHOLD, rule)
    taken = {id(f) for f in claims(kept, truth) if f is not None}
    out = []
    for f in kept:
        overlaps = [iou(f.box, tuple(box)) for _, *box in truth]
        if id(f) not in taken and max(overlaps, default=0) <= 0.1:
            out.append([int(v) for v in f.box])
    return out


def tile(image, box, number):
    """The square of twice the box's side around it, the box in red, numbered."""
    x1, y1, x2, y2 = box
    s = max(x2 - x1, y2 - y1, 1)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    framed = cv2.copyMakeBorder(image, s, s, s, s, cv2.BORDER_CONSTANT)[cy:cy + 2 * s, cx:cx + 2 * s]
    out = cv2.resize(framed, (TILE, TILE), interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (TILE // 4, TILE // 4), (TILE * 3 // 4, TILE * 3 // 4), (0, 0, 255), 1)
    cv2.putText(out, str(number), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
    return out


def sheets(args):
    cv2.setNumThreads(1)
    split, photos = parts(args.data)
    shipped = json.loads((models_folder() / YUNET_RULE_FILE).read_text())
    floor, k = shipped["from_score"], shipped["yunet_weight"]
    rule = load_rules(models_folder())["yunet"]
    yunet = YuNet(models_folder() / YUNET_FILE, threshold=floor, rule=IDENTITY)
    verifier = make_detector("maskhog", yunet=False).verifier
    args.out.mkdir(parents=True, exist_ok=True)
    everything = {}
    for part, paths in split.items():
        tiles, entries = [], []
        for path in paths:
            image = read_image(path)
            truth = [(label, *box) for label, box in photos[path]]
            for box in pool(image, truth, yunet, verifier, rule, k, floor):
                if any(min(b[2] - b[0], b[3] - b[1]) < MIN_SIDE and iou(box, tuple(b)) > 0.1 for _, *b in truth):
                    continue   # on a face too small to count: neither right nor wrong anyway
                entries.append({"photo": Path(path).name, "box": box})
                tiles.append(tile(image, box, len(entries)))
        blank = np.zeros((TILE, TILE, 3), np.uint8)
        for s in range(0, len(tiles), PER_SHEET):
            chunk = tiles[s:s + PER_SHEET]
            chunk += [blank] * (PER_SHEET - len(chunk))
            cv2.imwrite(str(args.out / f"{part}_{s // PER_SHEET + 1}.png"),
                        np.vstack([np.hstack(chunk[r:r + 10]) for r in range(0, PER_SHEET, 10)]))
        everything[part] = entries
        print(part, len(paths), "photos,", len(entries), "boxes to judge", flush=True)
    (args.out / "pool.json").write_text(json.dumps({"threshold": POOL_THRESHOLD, "yunet_weight": k,
                                                    "floor": floor, "parts": everything}, indent=1) + "\n")


def numbers(text):
    """``"1,2,5-9"`` as a set of ints."""
    out = set()
    for item in filter(None, text.split(",")):
        lo, _, hi = item.partition("-")
        out |= set(range(int(lo), int(hi or lo) + 1))
    return out


def label(args):
    pool_record = json.loads((args.out / "pool.json").read_text())
    entries = pool_record["parts"][args.part]
    faces, not_faces = numbers(args.faces), numbers(args.not_faces)
    assert not faces & not_faces, faces & not_faces
    assert max(faces | not_faces, default=0) <= len(entries), len(entries)
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {
        "what": "boxes of the default detector's YuNet rule at a loose threshold on held-out scene photos "
                "that claim and overlap no annotated face, judged by eye on contact sheets "
                "(train/unannotated_faces.py): faces the annotations leave out, and not faces",
        "judged_by": "one maskhog developer, 2026-12-07, from 128-px tiles (twice the box's side); "
                     "'unsure' counts as not a face",
        "pool": {k: pool_record[k] for k in ("threshold", "yunet_weight", "floor")}, "parts": {}}
    verdict = {"faces": [], "not_faces": [], "unsure": []}
    for n, e in enumerate(entries, 1):
        kind = "faces" if n in faces else "not_faces" if n in not_faces else "unsure"
        verdict[kind].append(e)
    record["parts"][args.part] = verdict
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print({k: len(v) for k, v in verdict.items()})


def judged_rows(rows, paths, verdict):
    """``rows`` with the judged faces of their photos added to the truth as ``"face"``: counted
    right when found (precision), never as missed (recall is of the annotated faces)."""
    faces = {}
    for entry in verdict["faces"]:
        faces.setdefault(entry["photo"], []).append(("face", *entry["box"]))
    assert len(rows) == len(paths)
    return [{**r, "truth": r["truth"] + faces.get(Path(p).name, [])} for r, p in zip(rows, paths)]


def choose(args):
    cv2.setNumThreads(1)
    record = json.loads(RECORD.read_text())
    split, photos = parts(args.data)
    path = models_folder() / YUNET_RULE_FILE
    shipped = json.loads(path.read_text())
    floor, k = record["pool"]["floor"], record["pool"]["yunet_weight"]
    rule = load_rules(models_folder())["yunet"]
    yunet = YuNet(models_folder() / YUNET_FILE, threshold=floor, rule=IDENTITY)
    verifier = make_detector("maskhog", yunet=False).verifier
    sets = {}
    for part in ("held", "validation"):
        rows, odds = yunet_rows(yunet, verifier, photos, split[part], floor, lambda m: None)
        sets[part] = (judged_rows(rows, split[part], record["parts"][part]), odds, rows)
    trials = []
    for t in np.round(np.arange(record["pool"]["threshold"], 8.01, 0.25), 2):
        each = {part: figures(j, o, k, float(t), rule) for part, (j, o, _) in sets.items()}
        strict = {part: figures(r, o, k, float(t), rule)["precision"] for part, (_, o, r) in sets.items()}
        both = figures(sets["held"][0] + sets["validation"][0], list(sets["held"][1]) + list(sets["validation"][1]),
                       k, float(t), rule)
        trials.append({"threshold": float(t), "mean_recall": round((both["with_mask"] + both["without_mask"]) / 2, 4),
                       "both": both, **{p: f for p, f in each.items()},
                       "precision_on_annotations": strict,
                       "ok": all(f["precision"] >= 0.90 for f in each.values())})
        print(t, both["with_mask"], both["without_mask"], {p: f["precision"] for p, f in each.items()}, strict,
              flush=True)
    best = max((r for r in trials if r["ok"]), key=lambda r: (r["mean_recall"], r["threshold"]))
    print(f"chosen: YuNet's rule from {best['threshold']} (k = {k}); shipped {shipped['yunet_threshold']}")
    # Whether it went into face_yunet.json, and a person's reason where it did not, stay with it.
    why_not = record.get("choice", {}).get("why_not")
    record["choice"] = {"threshold": best["threshold"], "yunet_weight": k, "trials": trials, "written": args.write,
                        **({"why_not": why_not} if why_not and not args.write else {})}
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    if args.write:
        shipped.update({"yunet_threshold": best["threshold"],
                        "yunet_threshold_chosen_on": "the held-out fifth and the validation photos, the faces the "
                        "annotations leave out (judged by eye) counted as faces: the most faces at precision >= 0.90 "
                        "on each (train/unannotated_faces.py choose)",
                        "yunet_threshold_figures": {p: best[p] for p in ("held", "validation")}})
        path.write_text(json.dumps(shipped, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    a = sub.add_parser("sheets")
    a.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    a.add_argument("--out", type=Path, default=Path("/tmp/maskhog_unannotated"))
    b = sub.add_parser("label")
    b.add_argument("part", choices=("held", "validation", "test"))
    b.add_argument("faces")
    b.add_argument("not_faces")
    b.add_argument("--out", type=Path, default=Path("/tmp/maskhog_unannotated"))
    c = sub.add_parser("choose")
    c.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    c.add_argument("--write", action="store_true", help="write the threshold into maskhog/models/face_yunet.json")
    args = parser.parse_args()
    return {"sheets": sheets, "label": label, "choose": choose}[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
