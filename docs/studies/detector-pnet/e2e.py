"""Does the shipped CNN face verifier keep the P-Net's proposals? End to end, before any retraining.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/e2e.py \
        --net /tmp/pnet/re/p16s4.pt --work /tmp/pnet
    ... e2e.py --net /tmp/pnet/re/p16s4.pt --work /tmp/pnet --verifier /tmp/pnet/fv_union1.onnx

Each photo of the held-out fifth (``held``) and of the test split is searched as it is by the
fHOG templates (from -1.4) and by the P-Net (logit >= ``--low``). Every proposal's crop and its
mirror image are scored by the shipped verifier (the mean face log-odds), plus 2 x the
template score for template boxes (the shipped rule) or ``w`` x the P-Net logit + ``c`` for
P-Net boxes. The kept boxes are merged (``merge_duplicates``, best score first) and counted
as the benchmark counts (faces >= 24 px, IoU >= 0.4). Each rule's threshold is chosen on
``held``: the most mean recall of masked and unmasked faces at precision >= 0.90. With
``--verifier`` (one trained on both proposers' boxes by ``train_verifier.py``), its own rule
judges the templates' proposals, the P-Net's, and both (also without the P-Net boxes that
overlap a template box), and the proposals are cached per verifier in ``--work``.
"""
import argparse
import pickle
from pathlib import Path

import cv2
import numpy as np
import torch

from maskhog.crops import crop_faces
from maskhog.detect import Face, MaskHog, merge_duplicates
from maskhog.detector_training import _detection_figures
from maskhog.io import read_image
from maskhog.verify import CnnFaceVerifier

import pnet_common as P

parser = argparse.ArgumentParser()
parser.add_argument("--net", type=Path, required=True)
parser.add_argument("--work", type=Path, default=Path("/tmp/pnet"))
parser.add_argument("--low", type=float, default=0.5)
parser.add_argument("--verifier", type=Path, help="a verifier trained on both proposers' boxes "
                    "(train_verifier.py '{\"union\": 1.5}'), judged by its own score rule")
args = parser.parse_args()
cv2.setNumThreads(1)
torch.set_num_threads(1)
boxed, learn, held, test = P.split()
net = P.load_net(args.net)
templates = MaskHog(verifier=False)
verifier = CnnFaceVerifier(args.verifier) if args.verifier else MaskHog().verifier


def odds(crops):
    z = verifier.net.logits(np.ascontiguousarray(crops))
    return z[:, 1] - z[:, 0]


def gather(paths):
    """Per photo: boxes, source (0 templates, 1 P-Net), template score or logit, verifier odds, truth."""
    rows = []
    for path in paths:
        image = read_image(path)
        found = templates.propose(image, -1.4)
        pb, ps = P.scan(net, image, threshold=args.low)
        boxes = [f.box for f in found] + [tuple(int(round(v)) for v in b) for b in pb]
        src = np.r_[np.zeros(len(found)), np.ones(len(pb))]
        raw = np.r_[[f.score for f in found], ps]
        z = np.zeros(0)
        if boxes:
            crops = crop_faces(image, boxes, verifier.crop)
            z = (odds(crops) + odds(crops[:, :, ::-1])) / 2
        rows.append((boxes, src, raw, z, [(label, *box) for label, box in boxed[path]]))
    return rows


cache = args.work / f"e2e_{args.net.stem}_{args.low}_{args.verifier.stem if args.verifier else 'shipped'}.pkl"
if cache.exists():
    parts = pickle.loads(cache.read_bytes())
else:
    parts = {"held": gather(held), "test": gather(test)}
    cache.write_bytes(pickle.dumps(parts))


def novel(boxes, src, iou=0.5):
    """For each box: a P-Net box that overlaps no template box at ``iou`` (always True for template boxes)."""
    out = np.ones(len(src), bool)
    tpl, pn = np.flatnonzero(src == 0), np.flatnonzero(src == 1)
    if len(tpl) and len(pn):
        m = P.iou_matrix(np.array([boxes[k] for k in pn]), np.array([boxes[k] for k in tpl]))
        out[pn] = m.max(axis=1) < iou
    return out


def figures(rows, rule, t, use):
    per_photo = []
    for boxes, src, raw, z, truth in rows:
        s = rule(src, raw, z)
        keep = [Face(b, float(v)) for b, v, k, u in zip(boxes, s, src, use(src, raw, boxes)) if u and v >= t]
        per_photo.append((merge_duplicates(keep), truth))
    return _detection_figures(per_photo, 24)


def choose(rule, use):
    values = np.concatenate([rule(src, raw, z)[use(src, raw, boxes)] for boxes, src, raw, z, _ in parts["held"]])
    best = None
    for t in np.unique(np.quantile(values, np.linspace(0.5, 0.995, 100))):
        f = figures(parts["held"], rule, t, use)
        if f["precision"] >= 0.90:
            m = (f["recall_with_mask"] + f["recall_without_mask"]) / 2
            if best is None or m > best[0]:
                best = (m, t, f)
    return best


def shipped(w=0.0, c=0.0):
    return lambda src, raw, z: z + np.where(src == 0, 2.0 * raw, w * raw + c)


if args.verifier:   # its own rule: P-Net boxes were given the template score -1.4 in training
    w = verifier.template_weight
    own = lambda src, raw, z: z + w * np.where(src == 0, raw, -1.4)   # noqa: E731
    RULES = [(f"{name}, its own rule (w {w})", own, use) for name, use in (
        ("templates", lambda src, raw, boxes: src == 0), ("P-Net >= 1.5", lambda src, raw, boxes: (src == 1) & (raw >= 1.5)),
        ("P-Net >= 1.0", lambda src, raw, boxes: (src == 1) & (raw >= 1.0)),
        ("templates + P-Net >= 1.5", lambda src, raw, boxes: (src == 0) | (raw >= 1.5)),
        ("templates + P-Net >= 2.5", lambda src, raw, boxes: (src == 0) | (raw >= 2.5)),
        ("templates + P-Net >= 2.5 where no template box is (IoU < 0.5)",
         lambda src, raw, boxes: ((src == 0) | (raw >= 2.5)) & novel(boxes, src)),
        ("templates + P-Net >= 2.5 where no template box is (IoU < 0.3)",
         lambda src, raw, boxes: ((src == 0) | (raw >= 2.5)) & novel(boxes, src, 0.3)))]
else:
    RULES = [("templates, shipped rule", shipped(), lambda src, raw, boxes: src == 0)]
for lo in (1.5, 1.0, 0.5) if not args.verifier else ():
    for w in (0.0, 0.5, 1.0):
        RULES.append((f"P-Net >= {lo}, odds + {w} x logit", shipped(w), lambda src, raw, boxes, lo=lo: (src == 1) & (raw >= lo)))
for lo in (2.0, 1.5) if not args.verifier else ():
    for w, c in ((0.0, 0.0), (0.5, -1.0), (1.0, -2.0), (1.0, -3.0)):
        RULES.append((f"templates + P-Net >= {lo}, odds + {w} x logit {c:+}", shipped(w, c),
                      lambda src, raw, boxes, lo=lo: (src == 0) | (raw >= lo)))

print("| proposals, score | held: mean recall, precision | test: masked / unmasked / badly worn, precision |")
print("|---|---|---|")
for name, rule, use in RULES:
    found = choose(rule, use)
    if found is None:
        print(f"| {name} | none reaches 0.90 | |")
        continue
    m, t, f = found
    g = figures(parts["test"], rule, t, use)
    print(f"| {name} | {m:.3f}, {f['precision']:.3f} | {g['recall_with_mask']:.3f} / {g['recall_without_mask']:.3f} / "
          f"{g['recall_incorrect_mask']:.2f}, {g['precision']:.3f} |", flush=True)
