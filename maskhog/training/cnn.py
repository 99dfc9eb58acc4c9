"""Training the CNN second stage with PyTorch, and exporting it to ONNX.

Needs the ``[cnn]`` extra (``pip install 'maskhog[cnn]'``); running the
result does not (see :mod:`maskhog.classify.cnn`). The steps mirror
:func:`maskhog.training.linear.train`, on the same data readers, the same
group-aware split and the same augmented crops, so that the SVM and the CNN
of one data set see the same faces:

1. :func:`maskhog.training.faces.face_crops` cuts the faces of each split;
2. :func:`fit_network` trains a small depthwise-separable CNN on the
   training crops (with light random warps and lighting changes per batch),
   keeps the last epoch (the one-cycle schedule's end), and scales
   its logits by a temperature fitted on the validation faces;
3. :func:`choose_threshold` picks the cascade's SVM-confidence threshold on
   the validation faces and varied copies of them (as the training copies);
4. :func:`export_onnx` writes the graph with a JSON header (classes, crop
   rule, graph SHA-256, figures, threshold) in its metadata.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import tuning
from ..classify.cnn import INPUT_NAME, CnnClassifier, save_cnn, to_blob
from ..labels import CLASSES

__all__ = ["build_network", "fit_network", "predict_logits", "cascade_curve", "choose_threshold",
           "export_onnx", "train_cnn", "require_torch", "MAX_CNN_FRACTION", "VARIED_COPIES"]

#: Channels of the stem and of the three stride-2 stages.
WIDTHS = (24, 48, 96, 192)
#: Varied copies of each validation face the cascade threshold is chosen on, besides the face.
VARIED_COPIES = 2
#: Share of the validation faces the cascade threshold may send to the CNN. Faces from another
#: source leave the SVM unsure more often than the validation faces of its own: in five draws of
#: train/measure_cnn.py the scene faces sent 2.0 to 3.5 points more (28.9% of validation faces
#: gave 30.9% of scene faces). 25% leaves room for that.
MAX_CNN_FRACTION = 0.25


def require_torch():
    """Import torch, or say how to install it."""
    try:
        import torch
    except ImportError:
        raise RuntimeError("training the CNN needs PyTorch: pip install 'maskhog[cnn]'") from None
    return torch


def build_network(n_classes: int, widths=WIDTHS, channels: int = 1):
    """A small CNN for face crops, colour or gray (about 117k weights).

    A 3x3 stride-2 stem, then depthwise-separable blocks (a 3x3 filter per
    channel, then a 1x1 mix of channels, as in MobileNet), three of them
    halving the resolution; global average pooling and one linear layer.
    The network takes raw 0-255 pixels and scales them itself, so that the
    ONNX file needs no preprocessing settings.
    """
    torch = require_torch()
    nn = torch.nn

    def separable(cin, cout, stride):
        return [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True)]

    a, b, c, d = widths

    class MaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(channels, a, 3, 2, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(inplace=True),
                *separable(a, b, 1), *separable(b, c, 2), *separable(c, c, 1),
                *separable(c, d, 2), *separable(d, d, 1), *separable(d, d, 2),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
            self.head = nn.Linear(d, n_classes)

        def forward(self, x):
            return self.head(self.body((x - 128.0) / 64.0))

    return MaskNet()


def _perturb(x, gen, lowres: float = 0.3):
    """Random small rotations, scalings, shifts, flips, lighting changes and blur of a batch.

    With probability ``lowres`` a face is shrunk to 16-40 pixels and enlarged
    again, as the small faces of crowd photos are. Random numbers come from
    ``gen`` on the CPU, so a seed gives the same batches on any device.
    """
    torch = require_torch()
    F = torch.nn.functional
    n, device = x.shape[0], x.device

    def uniform(lo, hi):
        return (lo + (hi - lo) * torch.rand(n, generator=gen)).to(device)

    angle = uniform(-0.17, 0.17)                   # about +-10 degrees
    scale = uniform(0.9, 1.1)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(device)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, uniform(-0.08, 0.08)], 1),
                         torch.stack([sin * flip, cos, uniform(-0.08, 0.08)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    if lowres:
        small = (torch.rand(n, generator=gen) < lowres).to(device)
        side = int(torch.randint(16, 41, (1,), generator=gen))
        if small.any():   # resize only the chosen faces (each is resized alone: the same pixels)
            x[small] = F.interpolate(F.interpolate(x[small], size=(side, side), mode="area"),
                                     size=x.shape[2:], mode="bilinear", align_corners=False)
    contrast, brightness = uniform(0.75, 1.25), uniform(-25, 25)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None]
    return x.clamp(0, 255)


def predict_logits(net, crops, batch: int | None = None):
    """The network's logits for uint8 crops, ``batch`` at a time (default
    :data:`maskhog.tuning.CNN_BATCH`: small batches are faster on a CPU, and a crop's logits do
    not depend on its batch)."""
    torch = require_torch()
    batch = batch or tuning.CNN_BATCH
    net.eval()
    device = next(net.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            x = torch.from_numpy(to_blob(crops[i:i + batch]))
            out.append(net(x.to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _balanced_accuracy(y, predicted) -> float:
    """Mean recall of the classes present in ``y`` (quietly, whatever else is predicted)."""
    return float(np.mean([np.mean(predicted[y == c] == c) for c in np.unique(y)]))


def _balanced_log_loss(y, logits) -> float:
    """Mean over the classes present in ``y`` of their faces' mean cross-entropy."""
    z = logits - logits.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]
    return float(np.mean([nll[y == c].mean() for c in np.unique(y)]))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _temperature(logits, y_idx) -> float:
    """The softmax temperature that minimises the validation log-loss (grid search)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8), 61))
    losses = [-np.log(_softmax(logits / t)[np.arange(len(y_idx)), y_idx] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(losses))])


def fit_network(train_crops, train_labels, val_crops, val_labels, classes, *, epochs: int = 30,
                batch: int = 128, lr: float = 1e-2, seed: int = 0, threads: int | None = None,
                widths=WIDTHS, lowres: float = 0.3, device: str = "cpu", sample_weight=None,
                select=None, select_from: int = 1, channels_last: bool = False, log_fn=None):
    """Train the CNN; keep the last epoch, where the one-cycle schedule ends.

    Classes weigh inversely to their number of training crops (as the SVM's
    balanced class weights); AdamW with a one-cycle learning rate; each batch
    is randomly warped and relit (:func:`_perturb`). Logits are finally
    divided by a temperature fitted on the validation faces (folded into the
    last layer), so that the softmax is a calibrated probability. ``device``
    may name a GPU; the shipped model is trained on the CPU.

    Validation log-loss and balanced accuracy are recorded per epoch, not used
    to pick one: with 14 validation faces of ``incorrect_mask`` (the shipped
    model's data) one face moves them by points, and the epochs they pick, at
    high learning rates, do worse on held-out faces than the last
    (docs/design.md#cnn-epoch).

    ``sample_weight`` instead draws each epoch's crops with replacement in
    proportion to these weights (no class weights then). ``select(net) ->
    (score, figures)`` instead scores each epoch from ``select_from`` on (highest kept, no
    temperature; scoring the early epochs, at high learning rates, costs time and they are
    not kept).
    ``channels_last`` trains in that memory layout: the same network, 1.1x (64-px crops) to
    1.4x (48 px) faster on the CPU (the shipped mask CNN is trained without it, the CNN
    face verifier with it).

    Returns
    -------
    net : torch.nn.Module, in eval mode
    record : dict
        Per-epoch validation figures, the chosen epoch and the temperature.
    """
    torch = require_torch()

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    classes = list(classes)
    y_tr = np.array([classes.index(c) for c in train_labels])
    y_va = np.array([classes.index(c) for c in val_labels])
    counts = np.bincount(y_tr, minlength=len(classes)).astype(float)
    weights = torch.tensor(len(y_tr) / (len(classes) * np.maximum(counts, 1)), dtype=torch.float32)
    if sample_weight is not None:   # the draw balances the classes
        weights = torch.ones(len(classes))
        draw = torch.as_tensor(np.asarray(sample_weight, np.float64))

    # uint8 crops stay uint8 (a quarter of float32's memory: 1.2 GB less for the verifier's
    # 58,000 crops); each batch becomes float32 as it is drawn, the same 0-255 values.
    train_crops = np.asarray(train_crops)
    X = torch.from_numpy(to_blob(train_crops, np.uint8 if train_crops.dtype == np.uint8 else np.float32))
    X = X.to(device)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    net = build_network(len(classes), widths, channels=X.shape[1]).to(device, memory_format=layout)
    Y = torch.from_numpy(y_tr).to(device)
    steps = max(1, (len(Y) + batch - 1) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.to(device), label_smoothing=0.05)
    history, best = [], (-np.inf, None, 0)
    for epoch in range(1, epochs + 1):
        start = time.time()
        net.train()
        order = (torch.randperm(len(Y), generator=gen) if sample_weight is None
                 else torch.multinomial(draw, len(Y), replacement=True, generator=gen))
        total = 0.0
        for k in range(steps):
            idx = order[k * batch:(k + 1) * batch].to(device)
            opt.zero_grad()
            batch_x = _perturb(X[idx].float(), gen, lowres).contiguous(memory_format=layout)
            loss = loss_fn(net(batch_x), Y[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if select is None:   # recorded only: the last epoch is kept
            logits = predict_logits(net, val_crops)
            figures = {"val_log_loss": round(_balanced_log_loss(y_va, logits), 4),
                       "val_balanced_accuracy": round(_balanced_accuracy(y_va, logits.argmax(axis=1)), 4)}
        elif epoch >= min(select_from, epochs):
            val, figures = select(net)
            if val > best[0]:
                best = (val, {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, epoch)
        else:
            figures = {}
        history.append({"epoch": epoch, "loss": round(total / len(Y), 4), **figures,
                        "seconds": round(time.time() - start, 1)})
        if log_fn:
            shown = "".join(f", {k.replace('_', ' ')} {v}" for k, v in figures.items())
            log_fn(f"epoch {epoch}/{epochs}: loss {total / len(Y):.4f}{shown} ({time.time() - start:.0f} s)")
    net = net.cpu().to(memory_format=torch.contiguous_format)
    net.eval()
    if select is not None:
        net.load_state_dict(best[1])
        return net, {"epochs": history, "best_epoch": best[2]}
    t = _temperature(predict_logits(net, val_crops), y_va)
    with torch.no_grad():
        net.head.weight /= t
        net.head.bias /= t
    return net, {"epochs": history, "kept_epoch": epochs, "temperature": round(t, 4)}


def cascade_curve(svm_proba, cnn_proba, y_true, classes, thresholds=None) -> list[tuple]:
    """What each cascade threshold costs and gives on labelled faces.

    Parameters
    ----------
    svm_proba, cnn_proba : (N, K) arrays
        Each stage's class probabilities for the same faces.
    y_true : (N,) labels
    classes : the K labels of the probability columns
    thresholds : sequence of float, optional
        Default: halfway between successive distinct SVM confidences, and
        both ends (every distinct outcome).

    Returns
    -------
    list of (threshold, cnn_fraction, accuracy)
        The share of faces whose SVM confidence is below the threshold (sent
        to the CNN), and the cascade's accuracy.
    """
    classes = np.asarray(classes)
    y_true = np.asarray(y_true)
    conf = svm_proba.max(axis=1)
    svm_right = classes[svm_proba.argmax(axis=1)] == y_true
    cnn_right = classes[cnn_proba.argmax(axis=1)] == y_true
    if thresholds is None:
        levels = np.unique(conf)
        thresholds = np.concatenate([[0.0], (levels[1:] + levels[:-1]) / 2, [levels[-1] + 1e-6]])
    rows = []
    for t in thresholds:
        unsure = conf < t
        rows.append((float(t), float(unsure.mean()), float(np.where(unsure, cnn_right, svm_right).mean())))
    return rows


def choose_threshold(svm_proba, cnn_proba, y_true, classes, *,
                     max_cnn_fraction: float = MAX_CNN_FRACTION) -> dict:
    """The cascade's threshold on the SVM's confidence, from validation faces.

    The SVM's verdict stands where its largest probability is at least the
    threshold; the CNN decides the rest. The chosen threshold is the most
    accurate on the validation faces among those that send at most
    ``max_cnn_fraction`` of them to the CNN; of equally accurate ones, the
    lowest (fewest CNN calls). The budget is spent where it buys accuracy:
    a CNN call costs well under a millisecond, a wrong verdict more.
    """
    rows = cascade_curve(svm_proba, cnn_proba, y_true, classes)
    # The curve's ends: no face to the CNN (the SVM alone), every face to it.
    svm_accuracy, cnn_accuracy = rows[0][2], rows[-1][2]
    within = [r for r in rows if r[1] <= max_cnn_fraction]
    t, fraction, accuracy = max(within, key=lambda r: (r[2], -r[1]))
    return {"threshold": round(t, 6), "validation": {
        "cnn_fraction": round(fraction, 4), "cascade_accuracy": round(accuracy, 4),
        "cnn_accuracy": round(cnn_accuracy, 4), "svm_accuracy": round(svm_accuracy, 4)},
        "rule": f"most accurate threshold on the validation faces with at most "
                f"{max_cnn_fraction:.0%} of them to the CNN (of equals, the fewest CNN calls)"}


def export_onnx(net, path, header: dict, size: int, channels: int = 1) -> None:
    """Write ``net`` as an ONNX graph (any batch size) with ``header`` in its metadata."""
    import io

    import onnx

    torch = require_torch()
    net.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no extra packages and
        # writes plain opset-13 graphs that OpenCV 4.x reads.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, channels, size, size),), buf, dynamo=False, opset_version=13,
                          input_names=[INPUT_NAME], output_names=["logits"],
                          dynamic_axes={INPUT_NAME: {0: "n"}, "logits": {0: "n"}})
    model = onnx.load_model_from_string(buf.getvalue())
    model.producer_name = "maskhog"
    save_cnn(model, path, header)


def train_cnn(roots, *, out, svm=None, augment=None, seed: int = 0, color: bool = True,
              epochs: int = 30, batch: int = 128, threads: int | None = None,
              max_cnn_fraction: float = MAX_CNN_FRACTION, progress_factory=None, log_fn=print) -> tuple[object, dict]:
    """Train the CNN on data folders, pick the cascade threshold, save the ONNX file.

    Parameters
    ----------
    roots : list of paths
        Class folders and/or Pascal VOC folders, combined, read and split
        exactly as :func:`maskhog.training.linear.train` does with the same ``seed``.
    out : path
        The ONNX file to write.
    svm : MaskClassifier or path, optional
        The SVM of the cascade (default: the shipped one). Its classes must
        be those of this data; its crop rule (in colour if ``color``), its way
        of finding the faces of class-folder images, and where it cut scene faces
        (``scene_boxes``), are the CNN's too.
    color : bool
        Colour crops (default), else gray ones as the SVM's.
    augment : Augment, optional
        Default: ``Augment()``, as ``maskhog train``.
    epochs, batch, threads, max_cnn_fraction
        See :func:`fit_network` and :func:`choose_threshold`.

    Returns
    -------
    cnn, report : the saved :class:`maskhog.classify.CnnClassifier` and a dict of figures.
    """
    from .. import __version__
    from ..classify import MaskClassifier, default_model_path
    from ..modelfiles import array_sha256
    from .augment import Augment
    from .data import group_split, load_datasets
    from .faces import face_crops, finder_for
    from .metrics import classification_metrics

    torch = require_torch()
    start = time.time()
    if not isinstance(svm, MaskClassifier):
        svm = MaskClassifier.load(svm or default_model_path())
    spec = replace(svm.crop, color=color, clahe=svm.crop.clahe and not color)
    detector = finder_for(svm)
    scene_boxes = svm.info.get("training", {}).get("scene_boxes", "annotated")
    augment = Augment() if augment is None else augment
    data = load_datasets(roots)
    log_fn(f"{len(data)} faces from {len(roots)} folder(s): {data.counts()}")
    data.require_classes()
    classes = [c for c in CLASSES if c in data.counts()]
    if tuple(classes) != tuple(svm.classes):
        raise ValueError(f"the data's classes {classes} differ from the SVM's {list(svm.classes)}: "
                         "train the CNN on the SVM's data (or pass --svm)")
    parts = {}
    splits = group_split(data, (0.7, 0.15, 0.15), seed=seed)
    # The cascade threshold is chosen on the validation faces and varied copies of them, made
    # as the training copies are (small, blurred, dim, tilted): the faces the cascade meets at
    # run time are harder than validation photos, on which the SVM is seldom unsure.
    varied = replace(augment, copies=VARIED_COPIES, balance=False)
    for name, idx, aug, draws in zip(("train", "validation", "test"), splits, (augment, varied, None),
                                     (seed, seed + 1, seed)):
        subset = data.subset(idx)
        # Held-out faces are also cut the SVM's way, for the cascade.
        also = (svm.crop,) if name != "train" else ()
        if progress_factory:
            with progress_factory(len({s.path for s in subset.samples}), f"cropping {name} faces") as bar:
                parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=draws,
                                         progress=bar.update, also=also, scene_boxes=scene_boxes)
        else:
            parts[name] = face_crops(subset, spec, detector=detector, augment=aug, seed=draws, also=also,
                                     scene_boxes=scene_boxes)
        log_fn(f"{name}: {parts[name].summary()}")
    hard = parts["validation"]
    parts["validation"] = hard.originals()   # the network's validation: the faces as they are
    tr, va, te = parts["train"], parts["validation"], parts["test"]
    (svm_te,) = te.also
    net, record = fit_network(tr.crops, tr.labels, va.crops, va.labels, classes, epochs=epochs,
                              batch=batch, seed=seed, threads=threads, log_fn=log_fn)
    cascade = choose_threshold(svm.classify_crops(hard.also[0]), _softmax(predict_logits(net, hard.crops)),
                               hard.labels, classes, max_cnn_fraction=max_cnn_fraction)
    cascade["validation"]["faces"] = {"validation": len(va.labels), "varied_copies": VARIED_COPIES}
    cascade["rule"] += f"; validation faces with {VARIED_COPIES} varied copies of each"
    cnn_test = _softmax(predict_logits(net, te.crops))
    svm_test = svm.classify_crops(svm_te)
    unsure = svm_test.max(axis=1) < cascade["threshold"]
    cascade["test"] = {"cnn_fraction": round(float(unsure.mean()), 4),
                       **_brief(classification_metrics(te.labels, np.where(unsure[:, None], cnn_test,
                                                                           svm_test), classes))}
    report = {
        # Folder names only: the file records no paths of the machine it was made on.
        "data": {"roots": [Path(r).name for r in roots],
                 "kinds": [k.split(": ")[0] + ": " + Path(k.split(": ", 1)[1]).name for k in data.kinds],
                 "faces": data.counts(),
                 "split": {k: v.summary() for k, v in parts.items()}, "seed": seed,
                 "scene_boxes": scene_boxes},
        "augment": augment.to_dict(),
        "network": {"widths": list(WIDTHS), "parameters": int(sum(p.numel() for p in net.parameters()))},
        "fit": record,
        "test_metrics": classification_metrics(te.labels, cnn_test, classes),
        "svm_test_metrics": _brief(classification_metrics(te.labels, svm_test, classes)),
        "seconds": round(time.time() - start, 1),
    }
    channels = 3 if spec.color else 1
    header = {"classes": classes, "crop": spec.to_dict(), "input": {"size": spec.size, "channels": channels},
              "cascade": {**cascade, "svm_coef_sha256": array_sha256(svm.coef)},
              "training": report, "versions": {"maskhog": __version__, "torch": torch.__version__}}
    export_onnx(net, out, header, spec.size, channels)
    log_fn(f"wrote {out}")
    return CnnClassifier(out, backend="cpu"), {**report, "cascade": cascade}


def _brief(m: dict) -> dict:
    return {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1")}
