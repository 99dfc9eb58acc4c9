"""Recipe: YuNet fine-tuned on the training scene photos, masked faces above all (face_yunet_n.onnx).

    python train/detector_yunet_finetune.py [--data ../shared/data] [--out maskhog/models/face_yunet_n.onnx]

YuNet learned faces from WIDER FACE, where few wear masks: on our photos its score of a masked
face is often too low for the default detector's rule (``train/yunet_misses.json``). This recipe
fine-tunes the published network's score and box heads on the training photos with
``maskhog.training.yunet_finetune.fine_tune`` (what is trained, the targets and the training
are described there; ``maskhog train-detector`` uses it too) and chooses what ships:

* Photos: the training photos of the detector split (``maskhog.training.scenes.split_scenes``,
  seed 0) less the verifier's held-out fifth (``train/detector_verifier_yunet.py`` chooses the
  score rule there, so neither network may have learned it); each at its own size, mirrored,
  and at 0.6 of its size (the faces the pipeline sees small).
* Choice: the epoch (of those saved) whose YuNet finds the most validation faces (mean of
  masked and unmasked recall at precision >= 0.90) through the default detector's score rule
  (the shipped CNN verifier's log-odds plus k times YuNet's log-odds, k and threshold chosen
  on the same photos), the published network measured alike; YuNet alone is reported too.
  Its scores move up, so the floor from which the detector judges YuNet's boxes is chosen
  for it too: the highest of 0.2, 0.25 and 0.3 that finds as many validation faces (fewer
  boxes to judge: the detector's time). The test photos are never looked at here. The rule
  the detector ships is chosen afterwards by ``train/detector_verifier_yunet.py`` on its
  held-out fifth.

Writes the chosen network to ``--out`` only when it finds more validation faces than the
published one, and ``train/detector_yunet_finetune.json`` either way. One thread, about two
minutes (94 s on 2026-12-07, most of it OpenCV computing the fixed maps and the validation
figures). Needs ``pip install '.[cnn]'``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from maskhog.detect import make_detector
from maskhog.detect.convention import load_rules
from maskhog.detect.yunet import YUNET_FILE, YuNet, log_odds
from maskhog.training.cnn import require_torch
from maskhog.training.scenes import split_scenes
from maskhog.training.yunet_finetune import SETTINGS, fine_tune
from maskhog.training.yunet_rule import SCORE_GRID, choose, figures, mean_recall, yunet_rows

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "maskhog" / "models"
#: The published network's file name (libfacedetection.train's onnx/ folder).
PUBLISHED = "yunet_n_640_640.onnx"
RUN_FROM = 0.2      # the default detector's YuNet score floor for the published network
FLOORS = (0.2, 0.25, 0.3)   # the floors tried for the fine-tuned one
HELD_OUT = 0        # the verifier recipe's held-out fifth: fit photos k with k % 5 == 0


# --- choice on validation photos ------------------------------------------------------------

def judged(yunet_path, paths, photos, verifier, floor=RUN_FROM):
    """YuNet's boxes of each photo from ``floor`` with the verifier's log-odds of their crops:
    what :func:`maskhog.training.yunet_rule.choose` chooses a rule from."""
    return yunet_rows(YuNet(yunet_path, threshold=floor), verifier, photos, paths, floor)


def chosen_rules(rows, odds, rule):
    """Whole detector: the (k, t) that finds the most faces at precision >= 0.90
    (:func:`~maskhog.training.yunet_rule.choose`, as ``maskhog train-detector`` chooses it);
    YuNet alone: the threshold on its own score likewise, with the figures per size band."""
    _, k, t, _ = choose(rows, odds, rule)
    no_verifier = [np.zeros_like(o) for o in odds]
    _, _, a, _ = choose(rows, no_verifier, rule, (1.0,), log_odds(SCORE_GRID))
    return {"detector": {"yunet_weight": k, "threshold": t,
                         "figures": figures(rows, odds, k, t, rule, sizes=True)},
            "alone": {"score": round(float(1 / (1 + np.exp(-a))), 3),
                      "figures": figures(rows, no_verifier, 1.0, a, rule, sizes=True)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=MODELS / YUNET_FILE)
    parser.add_argument("--published", type=Path, default=None,
                        help="the network to start from (default: the published YuNet, "
                             "../shared/models/yunet/yunet_n_640_640.onnx)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/yunet_finetune"),
                        help="where each saved epoch's network is written")
    parser.add_argument("--photos", type=int, default=0, help="a trial on this many training photos (0: all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of SETTINGS (a trial)")
    parser.add_argument("--rule-only", action="store_true",
                        help="only write face_yunet.json's alone_threshold from train/detector_yunet_finetune.json")
    args = parser.parse_args()
    if args.rule_only:
        return write_alone(json.loads((HERE / "detector_yunet_finetune.json").read_text()))
    torch = require_torch()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    settings = dict(SETTINGS)
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = type(SETTINGS[key])(value)
    start = time.time()
    args.published = args.published or args.data.parent / "models" / "yunet" / PUBLISHED
    published_bytes = args.published.read_bytes()
    rule = load_rules(MODELS)["yunet"]
    photos, (train_paths, val, _) = split_scenes([args.data / "scenes"])
    fit = train_paths + val
    held = {fit[k] for k in range(len(fit)) if k % 5 == HELD_OUT}
    learn = [p for p in train_paths if p not in held]
    if args.photos:
        learn = learn[:args.photos]
    saved, trained = fine_tune(args.published, learn, photos, rule, args.work, settings)

    verifier = make_detector("maskhog", yunet=False).verifier
    candidates = {"published": args.published, **{f"epoch {e}": p for e, p in saved.items()}}
    chosen = {}
    for name, path in candidates.items():
        chosen[name] = chosen_rules(*judged(path, val, photos, verifier), rule)
        d, a = chosen[name]["detector"], chosen[name]["alone"]
        print(f"{name}: detector k={d['yunet_weight']} t={d['threshold']} {d['figures']}; "
              f"alone from {a['score']} {a['figures']}", flush=True)
    best = max(chosen, key=lambda n: (mean_recall(chosen[n]["detector"]["figures"]), n == "published"))
    wins = best != "published"
    # Its scores moved up: the highest floor that finds as many validation faces judges fewer boxes.
    floors = {}
    for floor in FLOORS if wins else ():
        floors[floor] = chosen_rules(*judged(candidates[best], val, photos, verifier, floor), rule)["detector"]
        print(f"floor {floor}: {floors[floor]}", flush=True)
    floor = max(floors, key=lambda f: (mean_recall(floors[f]["figures"]), f)) if floors else RUN_FROM
    if wins and not args.photos:   # a trial never replaces a model
        args.out.write_bytes(saved_bytes := Path(candidates[best]).read_bytes())
        check = cv2.FaceDetectorYN.create(str(args.out), "", (320, 320), 0.5, 0.3, 5000)
        assert check is not None and len(saved_bytes) == len(published_bytes), "not the published graph's size"
    record = {**{k: trained[k] for k in ("settings", "scales", "trained", "heads_gap")},
              "photos": {"learn": len(learn), "held_out_fifth_left_out": len(held & set(train_paths)),
                         "validation": len(val)},
              **{k: trained[k] for k in ("positive_cells", "negative_cells", "history")}, "validation": chosen,
              "chosen": best, "floors": floors, "from_score": floor,
              "shipped": wins, "seconds_training": trained["seconds_training"], "seconds": round(time.time() - start)}
    (HERE / "detector_yunet_finetune.json").write_text(json.dumps(record, indent=1, default=float) + "\n")
    if wins and not args.photos:
        write_alone(record)
    print(f"chosen: {best}; {'written to ' + str(args.out) if wins else 'the published network stays'}")


def write_alone(record, folder=MODELS):
    """Put the chosen network's score floor (``from_score``) and own-score threshold, which
    decides crops without colour (the most validation faces at precision >= 0.90), into
    ``face_yunet.json``, and say which network the rule was chosen for. The verifier's rule
    (``yunet_weight``, ``yunet_threshold``) is ``train/detector_verifier_yunet.py``'s to
    choose, on its held-out fifth."""
    path = Path(folder) / "face_yunet.json"
    rule = json.loads(path.read_text())
    alone = record["validation"][record["chosen"]]["alone"]
    rule.update({"alone_threshold": max(alone["score"], record["from_score"]), "from_score": record["from_score"],
                 "network": f"YuNet fine-tuned by train/detector_yunet_finetune.py ({record['chosen']})",
                 "speed_limit": f"proposers yunet, from YuNet score {record['from_score']}: the highest floor "
                                "that finds as many validation faces (train/detector_yunet_finetune.py)",
                 "alone_validation": alone["figures"]})
    path.write_text(json.dumps(rule, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
