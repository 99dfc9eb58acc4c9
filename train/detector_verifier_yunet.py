"""Train the CNN face verifier that judges YuNet's proposals (maskhog/models/face_verifier_yunet.onnx).

    python train/detector_verifier_yunet.py [--data ../shared/data] [--out maskhog/models/face_verifier_yunet.onnx]
                                            [--yunet maskhog/models/face_yunet_n.onnx]

The recipe of ``train/detector_verifier_cnn.py`` (``maskhog.training.cnn_verifier``: the same
network, epochs and split, one photo in five of the detector's training and validation photos
held out), on what the default detector's first look shows the verifier: YuNet's boxes as YuNet
frames them, in colour photos at their own size. It learns from YuNet's boxes from score 0.05
(more faces and background than the detector sees, as the template verifier learns from below
its run-time threshold) in the photos as they are and enlarged 1.5x; the held-out fifth, from
score 0.2 as the detector proposes, picks the epoch.

Then, on the held-out fifth only (the validation photos here: neither verifier learned them),
the score rule is chosen for this verifier and for the shipped template-trained one alike:
mirror-averaged face log-odds plus k times YuNet's log-odds, k in 0, 0.5, 1, 2, 4, the kept boxes
moved onto the box convention and duplicates merged (as ``MaskHog.detect`` does), the threshold
with the most faces at precision >= 0.90. The test photos give both verifiers' figures, never a
choice. Writes ``train/detector_verifier_yunet.json`` and the winner's rule into
``maskhog/models/face_yunet.json`` (``yunet_weight``, ``yunet_threshold``; ``yunet_verifier`` only
where the YuNet-trained verifier wins, else its file is removed). About 5 minutes on two cores
(301 s on 2026-12-07).

``--yunet FILE`` judges another YuNet's proposals. ``--shipped-only`` chooses (and writes) the
shipped verifier's rule alone, training none: how the rule of the fine-tuned YuNet
(``train/detector_yunet_finetune.py``) was chosen, since its scores moved and the verifier's
did not. ``--held-out-only`` prints that choice's held-out figures only (trials: no test photos).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from maskhog.crops import CropSpec, crop_faces
from maskhog.detect.convention import load_rules
from maskhog.detect.verify import FACE_CLASSES, CnnFaceVerifier
from maskhog.detect.yunet import YUNET_FILE, YuNet
from maskhog.training.cnn import export_onnx, require_torch
from maskhog.training.cnn_verifier import CNN_VERIFIER, fit_and_judge
from maskhog.training.scenes import split_scenes
from maskhog.training.verifier import proposal_rows
from maskhog.training.yunet_rule import choose, figures

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "maskhog" / "models"
RUN_FROM = json.loads((MODELS / "face_yunet.json").read_text())["from_score"]   # the detector's YuNet floor
LEARN_FROM = 0.05  # the boxes it learns from
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
SETTINGS = {**CNN_VERIFIER, "scales": (1.0,), "learn_scales": (1.0, 1.5), "closeups": 0, "learn_network": None,
            "proposer": "yunet", "run_from": RUN_FROM, "learn_from": LEARN_FROM,
            "template_weights": WEIGHTS}


class YuNetBoxes:
    """YuNet's boxes from ``floor``, as it frames them, each scored by YuNet's log-odds (the
    recipe's "template score", which the score rule weighs)."""

    proposals = None

    def __init__(self, yunet, floor):
        self.yunet, self.floor = yunet, float(floor)

    def propose(self, image, threshold):
        return self.yunet.scored_boxes(image, self.floor)


def judged(rows, verifier):
    """Each row's mirror-averaged face log-odds by ``verifier``, from its crops."""
    out = []
    for r in rows:
        if not r["faces"]:
            out.append(np.zeros(0))
            continue
        out.append((verifier._odds(r["C"]) + verifier._odds(np.ascontiguousarray(r["C"][:, :, ::-1]))) / 2)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=MODELS / "face_verifier_yunet.onnx")
    parser.add_argument("--yunet", type=Path, default=MODELS / YUNET_FILE,
                        help="the YuNet network whose proposals are judged (default: the shipped one)")
    parser.add_argument("--held-out-only", action="store_true",
                        help="a trial of --yunet: only the shipped verifier's rule chosen on the held-out fifth, "
                             "printed (no training, no test photos, nothing written)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="choose and write the rule of the shipped verifier only, training none "
                             "(its test figures are recorded in face_yunet.json)")
    parser.add_argument("--rule-only", action="store_true",
                        help="only write face_yunet.json's rule from train/detector_verifier_yunet.json")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's threads (the record's: 2)")
    parser.add_argument("--photos", type=int, default=0, help="a trial on this many photos of each part (0: all)")
    args = parser.parse_args()
    if args.rule_only:
        return write_rule(json.loads((HERE / "detector_verifier_yunet.json").read_text()), args.out)
    torch = require_torch()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    start = time.time()
    settings, seed = SETTINGS, 0
    crop = CropSpec(int(settings["crop_size"]), 0.0, False, color=True)
    boxed, (train, val, test) = split_scenes([args.data / "scenes"], seed)
    photos = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    yunet = YuNet(args.yunet, threshold=LEARN_FROM)
    fit = train + val
    if args.photos:
        fit, test = fit[:args.photos], test[:args.photos]
        settings = {**settings, "epochs": 2, "select_from": 1}
    is_held = lambda k: k % 5 == settings["held_out"]   # noqa: E731 -- the template verifier's held-out fifth

    def rows(paths, floor, scales, keep=None):
        return proposal_rows(paths, photos, YuNetBoxes(yunet, floor), 0.0, None, None, scales, keep=keep,
                             describe=lambda image, found: crop_faces(image, [f.box for f in found], crop))

    held = rows(fit, RUN_FROM, (1.0,), keep=is_held)
    rule = load_rules(MODELS)["yunet"]
    if args.held_out_only:
        for r in held:
            r["C"] = r["X"]
        held_odds = judged(held, CnnFaceVerifier(MODELS / "face_verifier.onnx"))
        m, k, t, _ = choose(held, held_odds, rule, WEIGHTS)
        fv = figures(held, held_odds, k, t, rule, sizes=True)
        print(json.dumps({"yunet": str(args.yunet), "yunet_weight": k, "threshold": t, "held_out": fv}))
        return 0
    if args.shipped_only:
        test_rows = rows(test, RUN_FROM, (1.0,))
        for r in held + test_rows:
            r["C"] = r["X"]
        v = CnnFaceVerifier(MODELS / "face_verifier.onnx")
        held_odds = judged(held, v)
        m, k, t, _ = choose(held, held_odds, rule, WEIGHTS)
        fv = figures(held, held_odds, k, t, rule, sizes=True)
        ft = figures(test_rows, judged(test_rows, v), k, t, rule, sizes=True)
        print(f"template-trained (shipped): k={k} t={t} validation {m:.4f} {fv}; test {ft}", flush=True)
        return write_rule({"comparison": {"template-trained (shipped)": {
            "yunet_weight": k, "threshold": t, "validation": fv, "test": ft}}}, args.out)
    learn = rows(fit, LEARN_FROM, settings["learn_scales"], keep=lambda k: not is_held(k))
    test_rows = rows(test, RUN_FROM, (1.0,))
    print(f"proposals: {time.time() - start:.0f} s; {sum(len(r['faces']) for r in learn)} to learn from, "
          f"{len(held)} held-out and {len(test_rows)} test photos", flush=True)
    net, figs = fit_and_judge(learn, held, test_rows, settings, seed=seed, threads=args.threads, fallback=0.0)
    first = ("threshold", "logit_threshold", "score", "best_epoch")
    record = {"settings": {k: v for k, v in settings.items()}, "seed": seed, "yunet": args.yunet.name,
              **{k: figs[k] for k in first},
              "photos": {"fit": len({r["photo"] for r in learn + held}), "held_out": len(held),
                         "test": len(test_rows)},
              **{k: v for k, v in figs.items() if k not in first and k != "test_templates_alone"}}
    header = {"classes": list(FACE_CLASSES), "crop": crop.to_dict(), "input": {"size": crop.size, "channels": 3},
              "verifier": {"threshold": record["threshold"], "candidate_threshold": 0.0, "score": record["score"]},
              "record": record}
    export_onnx(net, args.out, header, crop.size, channels=3)

    # Both verifiers, one rule each, chosen on the held-out fifth and judged on the test photos.
    for r in held + test_rows:
        r["C"] = r["X"]
    compare = {}
    for name, path in (("template-trained (shipped)", MODELS / "face_verifier.onnx"), ("yunet-trained", args.out)):
        v = CnnFaceVerifier(path)
        held_odds = judged(held, v)
        m, k, t, _ = choose(held, held_odds, rule, WEIGHTS)
        fv = figures(held, held_odds, k, t, rule, sizes=True)
        ft = figures(test_rows, judged(test_rows, v), k, t, rule, sizes=True)
        compare[name] = {"yunet_weight": k, "threshold": t, "validation": fv, "test": ft}
        print(f"{name}: k={k} t={t} validation {m:.4f} {fv}; test {ft}", flush=True)
    record["comparison"] = compare
    record["seconds"] = round(time.time() - start, 1)
    (HERE / "detector_verifier_yunet.json").write_text(json.dumps(record, indent=1, default=float) + "\n")
    if not args.photos:
        write_rule(record, args.out)


def mean_recall(figures):
    return (figures["with_mask"] + figures["without_mask"]) / 2


def write_rule(record, out):
    """Put the rule of the verifier that finds more validation faces into ``face_yunet.json``
    (naming the YuNet-trained verifier only where it wins); the loser's file is removed."""
    path = MODELS / "face_yunet.json"
    compare = record["comparison"]
    name = max(compare, key=lambda k: mean_recall(compare[k]["validation"]))
    best = compare[name]
    rule = json.loads(path.read_text())
    rule.pop("yunet_verifier", None)
    rule.update({"yunet_weight": best["yunet_weight"], "yunet_threshold": best["threshold"],
                 "yunet_rule_chosen_on": "the held-out fifth of the detector's training and validation photos, "
                                         "which neither verifier learned (train/detector_verifier_yunet.py)",
                 "yunet_rule": {"verifier": name, "validation": best["validation"], "test": best["test"]}})
    if name == "yunet-trained":
        rule["yunet_verifier"] = Path(out).name
    elif Path(out).parent == MODELS:
        Path(out).unlink(missing_ok=True)
    path.write_text(json.dumps(rule, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
