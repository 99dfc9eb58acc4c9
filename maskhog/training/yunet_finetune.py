"""YuNet's score and box heads fine-tuned on annotated scene photos, written back into its graph.

YuNet learned faces from WIDER FACE, where few wear masks, and scores many masked faces too low
(docs/design.md#detector-yunet-finetune). :func:`fine_tune` teaches its last layers a set of
annotated photos and keeps the rest of what it knows:

* What changes: the score heads (``cls`` and ``obj``) and the box head of each of the three
  strides, two small convolutions each (1x1 then depthwise 3x3), read from and written back
  into the graph's weights. The backbone, neck and shared head convolutions stay fixed, so
  their outputs are computed once per photo by OpenCV and the heads are trained in PyTorch on
  those maps. The landmark heads are untouched. The ONNX file keeps the graph node for node
  (same inputs, outputs and opset), so ``cv2.FaceDetectorYN`` runs it unchanged.
* Copies: each photo at its own size, mirrored, and at 0.6 of its size (:data:`SCALES`).
* Targets: each annotated face moved into YuNet's own framing (the inverse of its box
  convention rule, since the detector moves YuNet's boxes onto the convention itself). Its
  positive cells: among the cells whose centre lies inside that box, those whose start box
  frames it at IoU >= 0.5, at most three, best first, and always the best one. Positives
  learn a score of 1 and the face's box; every other cell learns the start network's own
  outputs in log-odds (distillation), so that what it knows of unmasked faces and background
  is kept and background's low scores stay low; cells the start network scores from 0.1 on no
  annotated face learn a lower score (its false faces).
* Training: Adam, one-cycle learning rate peaking at 0.0005, two epochs of one copy a step
  (:data:`SETTINGS`; more raised background's scores with the faces', on validation photos).

``train/detector_yunet_finetune.py`` makes the shipped network with it from the published one;
``maskhog train-detector`` fine-tunes the shipped network on the user's photos
(:func:`maskhog.training.yunet_rule.add_yunet`). Needs PyTorch (``pip install 'maskhog[cnn]'``).
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

from ..detect.yunet import STRIDES, decode_boxes, grid, input_blob
from ..io import ImageError, read_image
from .cnn import require_torch

__all__ = ["SETTINGS", "fine_tune"]

#: The neck's output at each stride, the input of the shared head convolution, in the published graph.
NECK = ("283", "273", "263")
#: The heads trained; "kps" (landmarks) keeps its published weights.
TRAINED = ("cls", "obj", "bbox")
HEADS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
SCALES = ((1.0, False), (1.0, True), (0.6, False))   # (size, mirrored) of each photo's copies
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


def run_graph(net, image, names):
    """The graph's outputs ``names`` for a BGR image (padded, raw 0-255 pixels, as YuNet is fed)."""
    net.setInput(input_blob(image))
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
        decoded.append(decode_boxes(out["bbox"], cells[-1], s))
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


def cached(paths, photos, net, heads, torch, rule, settings, log_fn=print):
    """Per training copy: the shared convolution's maps (float16; they stay fixed), the
    published outputs there and the targets. An unreadable photo is named and skipped."""
    out = []
    for path in paths:
        truth = [(label, *box) for label, box in photos[path]]
        try:
            photo = read_image(path)
        except ImageError as exc:
            log_fn(f"YuNet fine-tuning: {exc}; skipped")
            continue
        for image, boxes in copies(photo, truth, rule):
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

def train(torch, heads, data, settings, on_epoch, log_fn=print):
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
        log_fn(f"YuNet fine-tuning, epoch {epoch}: {history[-1]}")
        if epoch % settings["save_every"] == 0 or epoch == settings["epochs"]:
            on_epoch(epoch, heads)
    return history



# --- the whole step ----------------------------------------------------------------------------

def fine_tune(start, paths, photos, rule, work, settings=SETTINGS, log_fn=print) -> tuple[dict, dict]:
    """Fine-tune the YuNet network ``start`` (an ONNX file of the published graph) on ``paths``.

    Parameters
    ----------
    start : path
        The network to start from: the published YuNet, or one fine-tuned from it.
    paths : list of paths
        The photos to learn; ``photos[path]`` holds their annotated faces ``[(label, box)]``.
    rule : BoxRule
        YuNet's box convention rule, whose inverse moves the annotated faces into its framing.
    work : path
        A folder: each saved epoch's network is written there.

    Returns
    -------
    saved : dict
        ``{epoch: path}`` of the networks saved (every ``save_every`` epochs and the last).
    record : dict
        The settings, the heads' largest difference from the graph, the cells learned, each
        epoch's losses and seconds.
    """
    torch = require_torch()
    started = time.time()
    model = onnx.load(str(start))
    heads = build_heads(torch, weights(model))
    net = neck_net(model)
    gap = heads_gap(torch, heads, net, paths, log_fn)
    data = cached(paths, photos, net, heads, torch, rule, settings, log_fn)
    if not data:
        raise ValueError("YuNet fine-tuning: none of the photos could be read")
    n_pos = sum(len(t[0]) for d in data for t in d["targets"])
    n_neg = sum(len(t[3]) for d in data for t in d["targets"])
    log_fn(f"YuNet fine-tuning: {len(data)} copies of {len(paths)} photos, {n_pos} positive and "
           f"{n_neg} negative cells ({time.time() - started:.0f} s)")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    saved = {}

    def save(epoch, heads):
        saved[epoch] = work / f"yunet_epoch{epoch}.onnx"
        onnx.save(with_weights(model, trained_weights(heads, settings["train_shared"])), str(saved[epoch]))

    history = train(torch, heads, data, settings, save, log_fn)
    record = {"settings": dict(settings), "scales": SCALES, "trained": TRAINED, "heads_gap": gap,
              "positive_cells": n_pos, "negative_cells": n_neg, "history": history,
              "seconds_training": round(time.time() - started)}
    return saved, record


def heads_gap(torch, heads, net, paths, log_fn=print) -> float:
    """The largest difference between the PyTorch heads' outputs and the graph's, on the first
    readable photo of ``paths``: the heads must be the graph's before they learn anything."""
    for path in paths:
        try:
            image = read_image(path)
        except ImageError:
            continue
        names = [f"{k}_{s}" for k in HEADS for s in STRIDES]
        outs = run_graph(net, image, (*NECK, *names))
        with torch.no_grad():
            mine = heads([torch.from_numpy(outs[n]) for n in NECK])
        gap = max(float(np.abs(mine[i][k].numpy() - outs[f"{k}_{s}"][0]).max())
                  for k in HEADS for i, s in enumerate(STRIDES))
        log_fn(f"YuNet fine-tuning: PyTorch heads against the graph, largest difference {gap:.2e}")
        if gap >= 1e-3:
            raise ValueError(f"not YuNet's published graph: its heads differ from PyTorch's by {gap:.2g}")
        return gap
    raise ValueError("YuNet fine-tuning: none of the photos could be read")
