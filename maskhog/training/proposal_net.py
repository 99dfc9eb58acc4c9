"""Train the proposal network (:mod:`maskhog.detect.proposals`) on the boxed faces of scene photos.

The recipe (docs/design.md#detector-pnet), in four steps:

1. :func:`windows`: from each training photo, jittered windows around each face
   (faces; part faces, for the box offsets only; background beside the face)
   and random background squares, all cut at 16 px;
2. :func:`fit`: the network learns the face logit (binary cross-entropy) and
   the box offsets (smooth L1), with mirror and colour jitter;
3. :func:`hard_windows`: the first network's best proposals that overlap no
   face are cut as more background;
4. a second network learns from scratch with them, and is written as ONNX
   (:func:`export`).

Needs PyTorch (``pip install 'maskhog[cnn]'``). About 1.5 minutes on 2 cores (89 s).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from ..boxes import pairwise_iou, square_around
from ..detect.proposals import PROPOSAL_FILE, save_proposals, scan_pyramid
from ..io import read_image
from .scenes import split_scenes

__all__ = ["SETTINGS", "windows", "fit", "hard_windows", "export", "proposal_network", "torch_proposals",
           "train_proposals", "training_photos"]

log = logging.getLogger("maskhog")

#: The recipe: windows per face and photo, training, the logit threshold and smallest face at
#: run time. ``min_face`` 41 matches the templates' smallest face: from 24 px the network costs
#: three times as much for 0.01 of held-out recall (docs/design.md#detector-pnet).
SETTINGS = {"window": 16, "stride": 4, "channels": (16, 24, 32),
            "pos": 6, "part": 3, "near": 3, "neg": 30, "bare": 3,
            "epochs": 20, "hard_epochs": 30, "batch": 256, "lr": 3e-3, "hard_per_photo": 60,
            "threshold": 2.5, "min_face": 41}


def proposal_network(channels):
    """16 -> 7 -> 3 -> 1 px, stride 4: three convolutions, then a face logit and 4 box offsets."""
    from torch import nn

    a, b, c = channels
    return nn.Sequential(nn.Conv2d(3, a, 4, stride=2), nn.ReLU(), nn.Conv2d(a, b, 3, stride=2), nn.ReLU(),
                         nn.Conv2d(b, c, 3), nn.ReLU(), nn.Conv2d(c, 5, 1))


def _scaled(pixels):
    """Pixels 0-255 to about [-1, 1]: in training, and inside the exported graph (:func:`export`)."""
    return (pixels - 127.5) / 128.0


def _to_tensor(bgr):
    """uint8 BGR (N, H, W, 3) -> float (N, 3, H, W), scaled as the network takes it."""
    import torch

    return _scaled(torch.from_numpy(np.ascontiguousarray(bgr)).permute(0, 3, 1, 2).float())


def _cut(image, square, size: int):
    """The square cut from ``image`` (gray where it leaves it) at ``size`` px, and its corners."""
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in square)
    pad = max(0, -x1, -y1, x2 - w, y2 - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    patch = image[y1 + pad:y2 + pad, x1 + pad:x2 + pad]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp), (x1, y1, x2, y2)


#: Window kinds: background, face (IoU >= 0.65 with the face's square), part face (0.4-0.65).
BACKGROUND, FACE, PART = 0, 1, 2


def windows(photos: dict, settings=SETTINGS, seed: int = 0):
    """Training windows of ``photos`` (path -> [(label, box)]): ``(x (n, 16, 16, 3) uint8, kind (n,),
    offsets (n, 4))``; offsets are the face box's corners from the window's, in window sides."""
    size = settings["window"]
    x, kind, offsets = [], [], []

    def add(image, square, k, box):
        patch, (cx1, cy1, cx2, cy2) = _cut(image, square, size)
        s = cx2 - cx1
        if s < 12:
            return
        x.append(patch)
        kind.append(k)
        offsets.append((0, 0, 0, 0) if box is None else
                       ((box[0] - cx1) / s, (box[1] - cy1) / s, (box[2] - cx2) / s, (box[3] - cy2) / s))

    for index, (path, faces) in enumerate(photos.items()):
        rng = np.random.default_rng([seed, index])   # one stream per photo: the same windows every run
        image = read_image(path)
        h, w = image.shape[:2]
        boxes = np.array([b for _, b in faces], float).reshape(-1, 4)
        squares = np.array([square_around(b) for b in boxes]).reshape(-1, 4)
        for (label, _), box, sq in zip(faces, boxes, squares):
            s = sq[2] - sq[0]
            if s < 12:
                continue
            cx, cy = (sq[0] + sq[2]) / 2, (sq[1] + sq[3]) / 2
            more = settings["bare"] if label == "without_mask" else 1   # unmasked faces are rarer
            want = {FACE: settings["pos"] * more, PART: settings["part"] * more, BACKGROUND: settings["near"]}
            for _ in range(60 * more):
                if not any(want.values()):
                    break
                k = rng.choice([k for k, n in want.items() if n])
                scale, shift = {FACE: (rng.uniform(0.85, 1.2), rng.uniform(-0.12, 0.12, 2)),
                                PART: (rng.uniform(0.75, 1.4), rng.uniform(-0.3, 0.3, 2)),
                                BACKGROUND: (rng.uniform(0.7, 1.5), rng.uniform(-1.0, 1.0, 2))}[k]
                side = max(12.0, s * scale)
                ncx, ncy = cx + shift[0] * s, cy + shift[1] * s
                c = np.array([ncx - side / 2, ncy - side / 2, ncx + side / 2, ncy + side / 2])
                if k == BACKGROUND and (c[0] < 0 or c[1] < 0 or c[2] > w or c[3] > h):
                    continue
                o = pairwise_iou(c, squares)[0]
                best = o.max()
                got = FACE if best >= 0.65 else PART if best >= 0.4 else BACKGROUND if best < 0.3 else None
                if got == k:
                    want[k] -= 1
                    add(image, c, k, None if k == BACKGROUND else boxes[int(o.argmax())])
        got = 0   # random background squares, sides log-uniform from 12 px to half the shorter side
        for _ in range(settings["neg"] * 10):
            if got >= settings["neg"]:
                break
            side = float(np.exp(rng.uniform(np.log(12), np.log(max(13, min(h, w) / 2)))))
            x1, y1 = rng.uniform(0, w - side), rng.uniform(0, h - side)
            c = np.array([x1, y1, x1 + side, y1 + side])
            if len(boxes) and max(pairwise_iou(c, squares).max(), pairwise_iou(c, boxes).max()) >= 0.3:
                continue
            add(image, c, BACKGROUND, None)
            got += 1
    return np.array(x, np.uint8).reshape(-1, size, size, 3), np.array(kind, np.int8), np.array(offsets, np.float32)


def fit(x, kind, offsets, settings=SETTINGS, epochs: int | None = None, seed: int = 0):
    """A network trained on windows: loss = cross-entropy of the face logit (faces and background)
    + 0.5 x smooth L1 of the offsets (faces and part faces). Mirror and colour jitter."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = proposal_network(settings["channels"])
    X, K, R = _to_tensor(x), torch.from_numpy(kind.astype(np.int64)), torch.from_numpy(offsets)
    n, batch, epochs = len(X), settings["batch"], epochs or settings["epochs"]
    opt = torch.optim.Adam(net.parameters(), lr=settings["lr"], weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings["lr"], total_steps=epochs * -(-n // batch),
                                                pct_start=0.1)
    for epoch in range(epochs):
        net.train()
        order = torch.from_numpy(rng.permutation(n))
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb, kb, rb = X[idx].clone(), K[idx], R[idx].clone()
            b = len(idx)
            flip = torch.rand(b) < 0.5                      # mirrored: x offsets swap and change sign
            xb[flip] = xb[flip].flip(3)
            rb[flip] = torch.stack([-rb[flip, 2], rb[flip, 1], -rb[flip, 0], rb[flip, 3]], 1)
            gain = 1 + 0.1 * (torch.rand(b, 3, 1, 1) * 2 - 1)
            contrast = 1 + 0.25 * (torch.rand(b, 1, 1, 1) * 2 - 1)
            bright = 0.15 * (torch.rand(b, 1, 1, 1) * 2 - 1)
            out = net((xb * gain * contrast + bright).clamp(-1, 1))[:, :, 0, 0]
            judged, boxed = kb != PART, kb != BACKGROUND
            loss = F.binary_cross_entropy_with_logits(out[judged, 0], (kb[judged] == FACE).float())
            if boxed.any():
                loss = loss + 0.5 * F.smooth_l1_loss(out[boxed, 1:], rb[boxed], beta=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * b
        log.info("proposal network: epoch %d of %d, mean loss %.4f", epoch + 1, epochs, total / n)
    return net.eval()


def torch_proposals(net, image, threshold: float, min_face: float, settings=SETTINGS, top_k: int = 400):
    """What :meth:`maskhog.detect.proposals.ProposalNet.propose` gives, from the torch network (for mining): the best
    ``top_k``, from each level's best 3,000 windows (plenty to mine from)."""
    import torch

    with torch.inference_mode():
        boxes, logits = scan_pyramid(lambda level: net(_to_tensor(level[None]))[0].numpy(), image,
                                     settings["window"], settings["stride"], threshold, min_face, 0.7,
                                     level_cap=3000)
    return boxes[:top_k], logits[:top_k]


def hard_windows(net, photos: dict, settings=SETTINGS) -> np.ndarray:
    """The network's best proposals (logit >= -2, faces from 24 px) that overlap no face
    (IoU < 0.3 with each box and its square), at most ``hard_per_photo`` a photo, cut at 16 px."""
    out = []
    for path, faces in photos.items():
        image = read_image(path)
        boxes = np.array([b for _, b in faces], float).reshape(-1, 4)
        squares = np.array([square_around(b) for b in boxes]).reshape(-1, 4)
        found, _ = torch_proposals(net, image, -2.0, 24, settings)
        if len(boxes):
            found = found[(pairwise_iou(found, boxes).max(1) < 0.3) & (pairwise_iou(found, squares).max(1) < 0.3)]
        for box in found[:settings["hard_per_photo"]]:
            side = max(12.0, box[2] - box[0], box[3] - box[1])
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            out.append(_cut(image, (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2),
                            settings["window"])[0])
    return np.array(out, np.uint8).reshape(-1, settings["window"], settings["window"], 3)


def export(net, path, header: dict) -> None:
    """Write the network as ONNX: raw BGR pixels (0-255, any height and width) in, the five
    maps out; the scaling to about [-1, 1] is part of the graph."""
    import io

    import onnx
    import torch

    class Scaled(torch.nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, image):
            return self.body(_scaled(image))

    buffer = io.BytesIO()
    dummy = torch.zeros(1, 3, 48, 64)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no extra packages and writes plain
        # opset-13 graphs that OpenCV 4.x reads (as maskhog.training.cnn's export).
        warnings.simplefilter("ignore")
        torch.onnx.export(Scaled(net).eval(), dummy, buffer, input_names=["image"], output_names=["maps"],
                          dynamic_axes={"image": {2: "height", 3: "width"}, "maps": {2: "rows", 3: "cols"}},
                          opset_version=13, dynamo=False)
    save_proposals(onnx.load_model_from_string(buffer.getvalue()), path, header)


def train_proposals(photos: dict, out_dir, *, seed: int = 0, settings=SETTINGS) -> dict:
    """Train the proposal network on ``photos`` (path -> [(label, box)]) and write
    ``out_dir/face_proposals.onnx``; returns its header."""
    from pathlib import Path

    import torch

    torch.set_flush_denormal(True)   # trained weights give denormal activations: 40x slower convolutions
    start = time.time()
    x, kind, offsets = windows(photos, settings, seed)
    log.info("proposal network: %d face, %d part, %d background windows from %d photos",
             (kind == FACE).sum(), (kind == PART).sum(), (kind == BACKGROUND).sum(), len(photos))
    first = fit(x, kind, offsets, settings, seed=seed)
    hard = hard_windows(first, photos, settings)
    log.info("proposal network: %d hard background windows", len(hard))
    net = fit(np.concatenate([x, hard]), np.concatenate([kind, np.zeros(len(hard), np.int8)]),
              np.concatenate([offsets, np.zeros((len(hard), 4), np.float32)]), settings,
              epochs=settings["hard_epochs"], seed=seed)
    header = {"window": settings["window"], "stride": settings["stride"], "threshold": settings["threshold"],
              "min_face": settings["min_face"], "settings": {k: list(v) if isinstance(v, tuple) else v
                                                             for k, v in settings.items()},
              "photos": len(photos), "windows": int(len(x) + len(hard)), "seed": seed,
              "seconds": round(time.time() - start), "torch": torch.__version__}
    export(net, Path(out_dir) / PROPOSAL_FILE, header)
    return header


def training_photos(scenes, seed: int = 0) -> dict:
    """The scene photos the network learns from, ``{path: [(label, box)]}``: those the CNN face
    verifier learns from too (its fit photos but the held-out fifth, on which it is tuned)."""
    boxed, (train, val, _) = split_scenes(scenes, seed)
    fit = train + val
    return {path: boxed[path] for k, path in enumerate(fit) if k % 5}
