"""Recipe: YuNet fine-tuned on the training scene photos, masked faces above all (face_yunet_n.onnx).

    python train/detector_yunet_finetune.py [--data ../shared/data] [--out maskhog/models/face_yunet_n.onnx]

YuNet learned faces from WIDER FACE, where few wear masks: on our photos its score of a masked
face is often too low for the default detector's rule (``train/yunet_misses.json``). This recipe
teaches its last layers our faces and keeps the rest of what it knows:

* What changes: the score heads (``cls`` and ``obj``) and the box head of each of the three
  strides, two small convolutions each (1x1 then depthwise 3x3), read from and written back
  into the published graph's weights. The backbone, neck and shared head convolutions stay
  fixed, so their outputs are computed once per photo by OpenCV (the graph with them named as
  outputs) and the heads are trained in PyTorch on those maps. The landmark heads are untouched.
  The ONNX file keeps the published graph node for node (same inputs, outputs and opset), so
  ``cv2.FaceDetectorYN`` runs it unchanged.
* Photos: the training photos of the detector split (``maskhog.training.scenes.split_scenes``,
  seed 0) less the verifier's held-out fifth (``train/detector_verifier_yunet.py`` chooses the
  score rule there, so neither network may have learned it); each at its own size, mirrored,
  and at 0.6 of its size (the faces the pipeline sees small).
* Targets: each annotated face moved into YuNet's own framing (the inverse of
  ``box_convention.json``'s yunet rule, since the detector moves YuNet's boxes onto the
  convention itself). Its positive cells: among the cells of every stride whose centre lies
  inside that box, those whose published box frames it at IoU >= 0.5, at most three, best
  first, and always the best one. Positives learn a score of 1 and the face's box. Every
  other cell learns the published network's own outputs (distillation: its score heads'
  log-odds and its box), so that what YuNet knows of unmasked faces and background is not
  forgotten. Log-odds keep the low scores of background low too: a cross-entropy to the
  published probabilities let them rise, and the default detector judged 1.7 times as many
  boxes from YuNet's score 0.2 (against 1.2 times here). Cells that frame a face at IoU
  >= 0.3 without being chosen learn nothing (duplicates, which non-maximum suppression
  removes); and cells the published network scores from 0.1 on no annotated face learn a
  lower score (its false faces).
* Training: Adam, one-cycle learning rate peaking at 0.0005, two epochs of one copy a step,
  the network saved after each. A light touch: on validation, more (12 epochs, or a peak of
  0.003) raised YuNet's scores of background with those of faces and found fewer faces than
  the published network; training the shared convolutions too (the landmarks distilled) was
  no better (docs/design.md#detector-yunet-finetune).
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
import onnx
from onnx import numpy_helper

from maskhog.detect import make_detector
from maskhog.detect.convention import load_rules
from maskhog.detect.yunet import YUNET_FILE, YuNet
from maskhog.io import read_image
from maskhog.training.cnn import require_torch
from maskhog.training.scenes import split_scenes
from maskhog.training.yunet_rule import SCORE_GRID, choose, figures, logit, yunet_rows

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "maskhog" / "models"
STRIDES = (8, 16, 32)
#: The neck's output at each stride, the input of the shared head convolution, in the published graph.
NECK = ("283", "273", "263")
#: The heads trained; "kps" (landmarks) keeps its published weights.
TRAINED = ("cls", "obj", "bbox")
HEADS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
#: The published network's file name (libfacedetection.train's onnx/ folder).
PUBLISHED = "yunet_n_640_640.onnx"
SCALES = ((1.0, False), (1.0, True), (0.6, False))   # (size, mirrored) of each photo's copies
RUN_FROM = 0.2      # the default detector's YuNet score floor for the published network
FLOORS = (0.2, 0.25, 0.3)   # the floors tried for the fine-tuned one
HELD_OUT = 0        # the verifier recipe's held-out fifth: fit photos k with k % 5 == 0
SETTINGS = {"epochs": 2, "save_every": 1, "lr": 0.0005, "positives_per_face": 3, "positive_iou": 0.5,
            "ignore_iou": 0.3, "distill_weight": 100.0, "box_weight": 1.0,
            "negative_from": 0.1, "negative_weight": 1.0, "train_shared": 0, "distil_logits": 0.01,
            "seed": 0}


# --- the published graph, its fixed part run by OpenCV ---------------------------------------

def weights(model) -> dict:
    """The graph's initializers by name, as numpy arrays."""
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def neck_net(model):
    """An OpenCV network of the published graph that also gives the neck's maps (:data:`NECK`)."""
    extra = onnx.ModelProto()
    extra.CopyFrom(model)
    for name, stride in zip(NECK, STRIDES):   # OpenCV wants a shape: the published 640x640 one
        extra.graph.output.append(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, [1, 64, 640 // stride, 640 // stride]))
    return cv2.dnn.readNetFromONNX(np.frombuffer(extra.SerializeToString(), np.uint8))


def padded(image):
    """The image padded right and down to a multiple of 32, as ``cv2.FaceDetectorYN`` does."""
    h, w = image.shape[:2]
    return cv2.copyMakeBorder(image, 0, -h % 32, 0, -w % 32, cv2.BORDER_CONSTANT, value=0)


def run_graph(net, image, names):
    """The graph's outputs ``names`` for a BGR image (padded, raw 0-255 pixels, as YuNet is fed)."""
    net.setInput(cv2.dnn.blobFromImage(padded(image)))
    return dict(zip(names, net.forward(list(names))))


# --- the heads in PyTorch --------------------------------------------------------------------

def build_heads(torch, w):
    """YuNet's head at each stride as a PyTorch module holding the published weights: the
    shared convolution (1x1, depthwise 3x3, ReLU) and, from it, one pair (1x1, depthwise 3x3)
    per output. ``forward(maps)`` gives, per stride, a dict of ``(n_cells, channels)`` tensors
    with the graph's sigmoids on cls and obj."""
    nn = torch.nn

    def pair(prefix, depthwise, channels, relu=False):
        one = nn.Conv2d(64, channels, 1)
        dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        one.weight.data = torch.tensor(w[f"{prefix}.conv1.weight"])
        one.bias.data = torch.tensor(w[f"{prefix}.conv1.bias"])
        dw.weight.data = torch.tensor(w[depthwise[0]] if depthwise[0] in w else w[f"{prefix}.conv2.weight"])
        dw.bias.data = torch.tensor(w[depthwise[1]] if depthwise[1] in w else w[f"{prefix}.conv2.bias"])
        return nn.Sequential(one, dw, *([nn.ReLU()] if relu else []))

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.share = nn.ModuleList(pair(f"bbox_head.multi_level_share_convs.{i}.0", SHARE_DW[i], 64, True)
                                       for i in range(3))
            self.heads = nn.ModuleDict({k: nn.ModuleList(pair(f"bbox_head.multi_level_{k}.{i}", ("", ""), c)
                                                         for i in range(3)) for k, c in HEADS.items()})

        def shared(self, maps):
            """The shared convolution's output at each stride, from the neck's maps."""
            return [share(m) for share, m in zip(self.share, maps)]

        def outputs(self, shared, names=tuple(HEADS)):
            """The outputs ``names`` at each stride, from :meth:`shared`'s maps."""
            out = []
            for i, f in enumerate(shared):
                level = {}
                for k in names:
                    y = self.heads[k][i](f)[0].permute(1, 2, 0).reshape(-1, HEADS[k])
                    level[k] = torch.sigmoid(y) if k in ("cls", "obj") else y
                out.append(level)
            return out

        def forward(self, maps):
            return self.outputs(self.shared(maps))

    return Heads()


#: The shared convolutions' depthwise weights have graph-made names (folded batch norms).
SHARE_DW = (("504", "505"), ("507", "508"), ("510", "511"))


def trained_weights(heads, shared=False) -> dict:
    """The trained heads' weights (``shared``: and the shared convolutions') under their names
    in the published graph."""
    out = {}
    for i, pair in enumerate(heads.share if shared else ()):
        prefix = f"bbox_head.multi_level_share_convs.{i}.0"
        out[f"{prefix}.conv1.weight"] = pair[0].weight.detach().numpy()
        out[f"{prefix}.conv1.bias"] = pair[0].bias.detach().numpy()
        out[SHARE_DW[i][0]] = pair[1].weight.detach().numpy()
        out[SHARE_DW[i][1]] = pair[1].bias.detach().numpy()
    for k in TRAINED:
        for i, pair in enumerate(heads.heads[k]):
            prefix = f"bbox_head.multi_level_{k}.{i}"
            out[f"{prefix}.conv1.weight"] = pair[0].weight.detach().numpy()
            out[f"{prefix}.conv1.bias"] = pair[0].bias.detach().numpy()
            out[f"{prefix}.conv2.weight"] = pair[1].weight.detach().numpy()
            out[f"{prefix}.conv2.bias"] = pair[1].bias.detach().numpy()
    return out


def with_weights(model, new: dict):
    """A copy of the published graph with some of its initializers replaced (same shapes)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for t in out.graph.initializer:
        if t.name in new:
            assert tuple(t.dims) == new[t.name].shape, t.name
            t.CopyFrom(numpy_helper.from_array(new[t.name].astype(np.float32), t.name))
    return out


# --- targets ---------------------------------------------------------------------------------

def grid(shape, stride):
    """Each cell's column and row ``(n_cells, 2)``, in the graph's output order (row-major)."""
    rows, cols = -(-shape[0] // 32) * 32 // stride, -(-shape[1] // 32) * 32 // stride
    r, c = np.mgrid[:rows, :cols]
    return np.stack([c.ravel(), r.ravel()], 1).astype(np.float32)


def decode(bbox, cells, stride):
    """YuNet's boxes ``(x1, y1, x2, y2)`` from its box outputs, as ``cv2.FaceDetectorYN`` decodes them."""
    cx, cy = (cells[:, 0] + bbox[:, 0]) * stride, (cells[:, 1] + bbox[:, 1]) * stride
    w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


def encode(box, cell, stride):
    """The box outputs of one cell that decode to ``box``."""
    x1, y1, x2, y2 = box
    return np.array([(x1 + x2) / 2 / stride - cell[0], (y1 + y2) / 2 / stride - cell[1],
                     np.log((x2 - x1) / stride), np.log((y2 - y1) / stride)], np.float32)


def iou(boxes, box):
    x1, y1 = np.maximum(boxes[:, 0], box[0]), np.maximum(boxes[:, 1], box[1])
    x2, y2 = np.minimum(boxes[:, 2], box[2]), np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + (box[2] - box[0]) * (box[3] - box[1]) - inter + 1e-9)


def unconvention(rule, box):
    """An annotated box moved into YuNet's own framing: the inverse of its convention rule."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = (x2 - x1) / rule.sx, (y2 - y1) / rule.sy
    cx, cy = (x1 + x2) / 2 - rule.dx * w, (y1 + y2) / 2 - rule.dy * h
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def targets(boxes, shape, published, settings):
    """Per stride: the positive cells' indices and box targets, a mask of the cells that
    learn the published outputs, and the indices of those among them the published network
    scores from ``negative_from`` (boxes on no annotated face: its false faces). ``boxes``: the
    faces in YuNet's framing, in pixels of the copy of ``shape``; ``published``: the published
    heads' outputs there, per stride."""
    decoded, cells = [], []
    for s, out in zip(STRIDES, published):
        cells.append(grid(shape, s))
        decoded.append(decode(out["bbox"], cells[-1], s))
    positive = [dict() for _ in STRIDES]
    ignore = [np.zeros(len(c), bool) for c in cells]
    for box in boxes:
        candidates = []
        for i, s in enumerate(STRIDES):
            centre = (cells[i] + 0.5) * s
            inside = np.flatnonzero((centre[:, 0] > box[0]) & (centre[:, 0] < box[2])
                                    & (centre[:, 1] > box[1]) & (centre[:, 1] < box[3]))
            o = iou(decoded[i], box)
            ignore[i] |= o >= settings["ignore_iou"]
            candidates += [(o[j], i, j) for j in inside]
        if min(box[2] - box[0], box[3] - box[1]) < 6:
            continue
        candidates.sort(reverse=True)
        chosen = [c for c in candidates[:settings["positives_per_face"]] if c[0] >= settings["positive_iou"]]
        for o, i, j in chosen or candidates[:1]:
            positive[i][j] = encode(box, cells[i][j], STRIDES[i])
    out = []
    for i, published_level in enumerate(published):
        idx = np.array(sorted(positive[i]), np.int64)
        box = np.array([positive[i][j] for j in idx], np.float32).reshape(-1, 4)
        distil = ~ignore[i]
        distil[idx] = False
        score = np.sqrt(published_level["cls"][:, 0] * published_level["obj"][:, 0])
        negative = np.flatnonzero(distil & (score >= settings["negative_from"]))
        out.append((idx, box, distil, negative))
    return out


# --- data ------------------------------------------------------------------------------------

def copies(photo, truth, rule):
    """The photo's training copies (:data:`SCALES`) with its faces in YuNet's framing."""
    h, w = photo.shape[:2]
    for size, mirrored in SCALES:
        image = photo if size == 1 else cv2.resize(photo, None, fx=size, fy=size, interpolation=cv2.INTER_AREA)
        boxes = [tuple(v * size for v in unconvention(rule, box)) for _, *box in truth]
        if mirrored:
            image = np.ascontiguousarray(image[:, ::-1])
            boxes = [(w * size - x2, y1, w * size - x1, y2) for x1, y1, x2, y2 in boxes]
        yield image, boxes


def outputs(settings):
    """The outputs that change: the landmarks too where the shared convolutions are trained."""
    return TRAINED + (("kps",) if settings["train_shared"] else ())


def cached(paths, photos, net, heads, torch, rule, settings):
    """Per training copy: the shared convolution's maps (float16; they stay fixed), the
    published outputs there and the targets."""
    out = []
    for path in paths:
        truth = [(label, *box) for label, box in photos[path]]
        for image, boxes in copies(read_image(path), truth, rule):
            maps = [torch.from_numpy(m) for m in run_graph(net, image, NECK).values()]
            with torch.no_grad():
                shared = heads.shared(maps)
                published = heads.outputs(shared, outputs(settings))
            published = [{k: v.numpy() for k, v in level.items()} for level in published]
            fixed = maps if settings["train_shared"] else shared   # what stays fixed, cached
            out.append({"fixed": [f.numpy().astype(np.float16) for f in fixed], "published": published,
                        "targets": targets(boxes, image.shape, published, settings)})
    return out


# --- training --------------------------------------------------------------------------------

def train(torch, heads, data, settings, on_epoch):
    """Train the heads of :data:`TRAINED` on the cached copies, one copy a step; call
    ``on_epoch(epoch, heads)`` every ``save_every`` epochs."""
    for p in heads.parameters():
        p.requires_grad = False
    params = [p for k in TRAINED for p in heads.heads[k].parameters()]
    if settings["train_shared"]:
        params += list(heads.share.parameters())
    for p in params:
        p.requires_grad = True
    opt = torch.optim.Adam(params, lr=settings["lr"])
    steps = settings["epochs"] * len(data)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings["lr"], total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(settings["seed"])
    bce = torch.nn.functional.binary_cross_entropy
    history, started = [], time.time()
    for epoch in range(1, settings["epochs"] + 1):
        sums = np.zeros(4)
        for k in rng.permutation(len(data)):
            d = data[k]
            fixed = [torch.from_numpy(f.astype(np.float32)) for f in d["fixed"]]
            out = heads.outputs(heads.shared(fixed) if settings["train_shared"] else fixed, outputs(settings))
            pos = distil = box = neg = torch.zeros(())
            n_pos = sum(len(t[0]) for t in d["targets"])
            n_neg = sum(len(t[3]) for t in d["targets"])
            for level, published, (idx, target, keep, negative) in zip(out, d["published"], d["targets"]):
                keep = torch.from_numpy(keep)
                for name in ("cls", "obj"):
                    p = level[name][:, 0].clamp(1e-6, 1 - 1e-6)
                    q = torch.from_numpy(published[name][:, 0])
                    if settings["distil_logits"]:   # keeps the low scores of background low too
                        distil = distil + ((torch.logit(p[keep]) - torch.logit(q[keep].clamp(1e-6, 1 - 1e-6))) ** 2
                                           ).sum() * settings["distil_logits"]
                    else:
                        distil = distil + bce(p[keep], q[keep], reduction="sum")
                    if len(idx):
                        pos = pos - torch.log(p[torch.from_numpy(idx)]).sum()
                if len(negative):   # YuNet's score is sqrt(cls x obj): push it, not each, down
                    score = (level["cls"][:, 0] * level["obj"][:, 0]).clamp(1e-12, 1)[torch.from_numpy(negative)]
                    neg = neg - torch.log((1 - score.sqrt()).clamp(1e-6, 1)).sum()
                b = level["bbox"]
                q = torch.from_numpy(published["bbox"])
                distil = distil + ((b[keep] - q[keep]) ** 2).sum()
                if "kps" in level:   # the landmarks keep the published ones everywhere
                    distil = distil + ((level["kps"] - torch.from_numpy(published["kps"])) ** 2).sum() / 10
                if len(idx):
                    box = box + torch.nn.functional.smooth_l1_loss(
                        b[torch.from_numpy(idx)], torch.from_numpy(target), reduction="sum", beta=0.1)
            n_keep = sum(int(t[2].sum()) for t in d["targets"])
            # Per positive cell, and the distillation's mean over the other cells weighed as a
            # hundred positives: a copy has some hundred times more of them than positives.
            loss = (pos + settings["box_weight"] * box) / max(1, n_pos) \
                + settings["distill_weight"] * distil / max(1, n_keep) \
                + settings["negative_weight"] * neg / max(1, n_neg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            sums += [pos.item() / max(1, n_pos), box.item() / max(1, n_pos), distil.item() / max(1, n_keep),
                     neg.item() / max(1, n_neg)]
        seconds = time.time() - started
        history.append({"epoch": epoch, "positive": round(sums[0] / len(data), 4),
                        "box": round(sums[1] / len(data), 4), "distil": round(sums[2] / len(data), 6),
                        "negative": round(sums[3] / len(data), 4),
                        "seconds": round(seconds)})
        print(history[-1], flush=True)
        if epoch % settings["save_every"] == 0 or epoch == settings["epochs"]:
            on_epoch(epoch, heads)
    return history


# --- choice on validation photos ------------------------------------------------------------

def judged(yunet_path, paths, photos, verifier, floor=RUN_FROM):
    """YuNet's boxes of each photo from ``floor`` with the verifier's log-odds of their crops:
    what :func:`maskhog.training.yunet_rule.choose` chooses a rule from."""
    return yunet_rows(YuNet(yunet_path, threshold=floor), verifier, photos, paths, floor)


def mean_recall(f):
    return (f["with_mask"] + f["without_mask"]) / 2


def chosen_rules(rows, odds, rule):
    """Whole detector: the (k, t) that finds the most faces at precision >= 0.90
    (:func:`~maskhog.training.yunet_rule.choose`, as ``maskhog train-detector`` chooses it);
    YuNet alone: the threshold on its own score likewise, with the figures per size band."""
    _, k, t, _ = choose(rows, odds, rule)
    no_verifier = [np.zeros_like(o) for o in odds]
    _, _, a, _ = choose(rows, no_verifier, rule, (1.0,), logit(SCORE_GRID))
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
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    settings = dict(SETTINGS)
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = type(SETTINGS[key])(value)
    start = time.time()
    args.published = args.published or args.data.parent / "models" / "yunet" / PUBLISHED
    model = onnx.load(str(args.published))
    published_bytes = args.published.read_bytes()
    w = weights(model)
    heads = build_heads(torch, w)
    net = neck_net(model)
    rule = load_rules(MODELS)["yunet"]
    photos, (train_paths, val, _) = split_scenes([args.data / "scenes"])
    fit = train_paths + val
    held = {fit[k] for k in range(len(fit)) if k % 5 == HELD_OUT}
    learn = [p for p in train_paths if p not in held]
    if args.photos:
        learn = learn[:args.photos]

    # The PyTorch heads must give what the published graph gives, from the neck's maps.
    image = read_image(learn[0])
    names = [f"{k}_{s}" for k in HEADS for s in STRIDES]
    outs = run_graph(net, image, (*NECK, *names))
    with torch.no_grad():
        mine = heads([torch.from_numpy(outs[n]) for n in NECK])
    gap = max(float(np.abs(mine[i][k].numpy() - outs[f"{k}_{s}"][0]).max())
              for k in HEADS for i, s in enumerate(STRIDES))
    print(f"PyTorch heads against the graph: largest difference {gap:.2e}", flush=True)
    assert gap < 1e-3, gap

    data = cached(learn, photos, net, heads, torch, rule, settings)
    n_pos = sum(len(t[0]) for d in data for t in d["targets"])
    n_neg = sum(len(t[3]) for d in data for t in d["targets"])
    print(f"{len(learn)} photos, {len(data)} copies, {n_pos} positive and {n_neg} negative cells: "
          f"{time.time() - start:.0f} s", flush=True)

    args.work.mkdir(parents=True, exist_ok=True)
    saved = {}

    def save(epoch, heads):
        path = args.work / f"yunet_epoch{epoch}.onnx"
        onnx.save(with_weights(model, trained_weights(heads, settings["train_shared"])), str(path))
        saved[epoch] = path

    history = train(torch, heads, data, settings, save)
    trained_s = time.time() - start
    del data

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
    record = {"settings": settings, "scales": SCALES, "trained": TRAINED, "heads_gap": gap,
              "photos": {"learn": len(learn), "held_out_fifth_left_out": len(held & set(train_paths)),
                         "validation": len(val)},
              "positive_cells": n_pos, "negative_cells": n_neg, "history": history, "validation": chosen,
              "chosen": best, "floors": floors, "from_score": floor,
              "shipped": wins, "seconds_training": round(trained_s), "seconds": round(time.time() - start)}
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
