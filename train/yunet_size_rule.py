"""Study: should YuNet's small boxes be judged by another threshold than the rest?

    python train/yunet_size_rule.py [--data ../shared/data]

Small faces are the detector's weakest size band (24-48 px). The shipped rule keeps a YuNet box
when the CNN verifier's log-odds plus k times YuNet's log-odds reach one threshold. Here boxes
whose shorter side is under ``small`` px get ``d`` added to that sum (``d`` < 0: a stricter
threshold for them, ``d`` > 0: a looser one); for each (small, d), k and the threshold are chosen
as ``maskhog train-detector`` chooses them (``maskhog.training.yunet_rule.choose``, the most faces
at precision 0.90) on the verifier's held-out fifth, then measured on the validation photos. d = 0
is the shipped rule. Test photos are not looked at. Writes ``train/yunet_size_rule.json``.
"""

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from maskhog.detect import make_detector
from maskhog.detect.convention import IDENTITY, load_rules
from maskhog.detect.fhog import YUNET_RULE_FILE, models_folder
from maskhog.detect.yunet import YUNET_FILE, YuNet
from maskhog.training.scenes import split_scenes
from maskhog.training.yunet_rule import YUNET_RULE, choose, figures, yunet_rows

HERE = Path(__file__).resolve().parent
SMALL = (40, 48, 64)
SHIFTS = (-1.0, 0.0, 1.0, 2.0, 3.0, 4.0)


def shifted(rows, odds, d, small):
    """The verifier's log-odds with ``d`` added for boxes under ``small`` px."""
    out = []
    for r, o in zip(rows, odds):
        sides = np.array([min(f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in r["faces"]])
        out.append(o + d * (sides < small))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    start = time.time()
    floor = json.loads((models_folder() / YUNET_RULE_FILE).read_text())["from_score"]
    rule = load_rules(models_folder())["yunet"]
    photos, (train, val, _) = split_scenes([args.data / "scenes"])
    held = [p for k, p in enumerate(train + val) if k % 5 == YUNET_RULE["held_out"]]
    verifier = make_detector("maskhog", yunet=False).verifier
    yunet = YuNet(models_folder() / YUNET_FILE, threshold=floor, rule=IDENTITY)
    quiet = lambda m: None  # noqa: E731  (the photos the split skipped are named by split_scenes)
    held_rows, held_odds = yunet_rows(yunet, verifier, photos, held, floor, quiet)
    val_rows, val_odds = yunet_rows(yunet, verifier, photos, val, floor, quiet)
    trials = []
    for small in SMALL:
        for d in SHIFTS:
            m, k, t, f = choose(held_rows, shifted(held_rows, held_odds, d, small), rule)
            v = figures(val_rows, shifted(val_rows, val_odds, d, small), k, t, rule, sizes=True)
            trials.append({"small": small, "d": d, "yunet_weight": k, "threshold": t,
                           "held_out": {"mean_recall": round(m, 4), **f},
                           "validation": {"mean_recall": round((v["with_mask"] + v["without_mask"]) / 2, 4), **v}})
            print(small, d, k, t, trials[-1]["held_out"]["mean_recall"], f["precision"],
                  trials[-1]["validation"]["mean_recall"], v["precision"], flush=True)
    record = {"floor": floor, "photos": {"held_out": len(held_rows), "validation": len(val_rows)},
              "trials": trials, "seconds": round(time.time() - start)}
    (HERE / "yunet_size_rule.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
