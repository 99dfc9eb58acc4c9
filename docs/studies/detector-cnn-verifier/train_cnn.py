"""Step 2 of the CNN-verifier study: train a small CNN face/background verifier on the proposals.

    cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-cnn-verifier/train_cnn.py [--work /tmp/cnnver] [--epochs 20]

Needs ``proposals.py`` first. Data: the crops of the templates' proposals
(-0.9, scales 1.0 and 1.5) in the train+validation photos. Labels as
``maskhog.detector_training._fit_verifier``: IoU >= 0.4 face, < 0.25
background, in between left out. One photo in five (``photo % 5 == 0``, the
first of train_verifier's folds; both scales of a photo together) is held
out to pick the epoch and the threshold; the CNN trains on the other four.

Network: ``maskhog.cnn_training.build_network(2, widths=(16, 32, 64, 128),
channels=3)`` on raw 64x64 BGR crops. Batches are drawn with replacement with
the weights ``_fit_verifier`` gives (background 1/2, masked faces 1/4,
unmasked faces 1/4 of the total) and warped/relit/flipped by
``maskhog.cnn_training._perturb``; AdamW, one-cycle learning rate,
label smoothing 0.05, one thread. Score = logit(face) - logit(background).

After each epoch the held-out photos are scored and, as train_verifier picks
its threshold, the best mean(recall masked, recall unmasked) at precision
>= 0.90 (thresholds at 401 quantiles; both scales pooled; duplicates merged)
is found; the epoch with the highest one is kept, with its threshold.

Writes ``cnn.pt`` (state dict), ``cnn_record.json``, ``verifier.onnx`` (the
kept network, opset 13, any batch size) and ``fit_cnn_scores.npy`` /
``test_cnn_scores.npy`` under ``--work``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from maskhog import detector_training as dt  # noqa: E402
from maskhog.cnn import to_blob  # noqa: E402
from maskhog.cnn_training import _perturb, build_network  # noqa: E402

torch.set_num_threads(1)
cv2.setNumThreads(1)
WIDTHS = (16, 32, 64, 128)
MIN_PRECISION, MIN_SIDE = 0.90, 24


def load(work: Path, part: str):
    rows = pickle.loads((work / f"{part}_rows.pkl").read_bytes())
    crops = np.load(work / f"{part}_crops.npy")
    iou = np.concatenate([r["iou"] for r in rows])
    bare = np.concatenate([r["bare"] for r in rows])
    held = np.concatenate([np.full(r["stop"] - r["start"], r["photo"] % 5 == 0) for r in rows])
    return rows, crops, iou, bare, held


def per_row(rows, scores):
    return [scores[r["start"]:r["stop"]] for r in rows]


def best_threshold(rows, scores, floor=MIN_PRECISION):
    """train_verifier's rule: the threshold (of 401 quantiles) with the highest mean recall of
    masked and unmasked faces at precision >= ``floor``: ``(mean recall, threshold, figures)``."""
    values, best = per_row(rows, scores), None
    for t in np.unique(np.quantile(scores, np.linspace(0, 1, 401))):
        m = dt._detection_figures(dt._kept(rows, values, t), MIN_SIDE)
        score = (m.get("recall_with_mask", 0) + m.get("recall_without_mask", 0)) / 2
        if m["precision"] >= floor and (best is None or score > best[0]):
            best = (round(score, 4), round(float(t), 6), m)
    return best


def scores_of(net, crops, batch=512):
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            z = net(torch.from_numpy(to_blob(crops[i:i + batch])))
            out.append((z[:, 1] - z[:, 0]).numpy())
    return np.concatenate(out)


def export(net, path: Path) -> None:
    net.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 64, 64),), buf, dynamo=False, opset_version=13,
                          input_names=["crops"], output_names=["logits"],
                          dynamic_axes={"crops": {0: "n"}, "logits": {0: "n"}})
    path.write_bytes(buf.getvalue())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/cnnver"))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    rows, crops, iou, bare, held = load(args.work, "fit")
    label = np.where(iou >= 0.4, 1, np.where(iou < 0.25, 0, -1))
    train = (label >= 0) & ~held
    y = label[train]
    weight = np.where(y == 0, 0.5 / (y == 0).sum(), 0.0)
    for group in (bare[train], ~bare[train]):
        weight[(y == 1) & group] = 0.25 / ((y == 1) & group).sum()
    X = torch.from_numpy(to_blob(crops[train]))
    Y = torch.from_numpy(y)
    held_rows = [r for r in rows if r["photo"] % 5 == 0]
    held_idx = np.concatenate([np.arange(r["start"], r["stop"]) for r in held_rows])
    remap = [dict(r) for r in held_rows]   # their start/stop: into the held-out scores
    at = 0
    for r in remap:
        n = r["stop"] - r["start"]
        r["start"], r["stop"], at = at, at + n, at + n
    print(f"training crops {len(y)} (faces {int(y.sum())}, unmasked {int(((y == 1) & bare[train]).sum())}, "
          f"background {int((y == 0).sum())}); held-out photos {len({r['photo'] for r in held_rows})}, "
          f"proposals {len(held_idx)}", flush=True)

    net = build_network(2, WIDTHS, channels=3)
    steps = (len(Y) + args.batch - 1) // args.batch
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    sampler_w = torch.from_numpy(weight)
    history, best, start_all = [], None, time.time()
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        net.train()
        order = torch.multinomial(sampler_w, len(Y), replacement=True, generator=gen)
        total = 0.0
        for k in range(steps):
            idx = order[k * args.batch:(k + 1) * args.batch]
            opt.zero_grad()
            loss = loss_fn(net(_perturb(X[idx], gen)), Y[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        s = scores_of(net, crops[held_idx])
        found = best_threshold(remap, s)
        entry = {"epoch": epoch, "loss": round(total / len(Y), 4),
                 "held_out_mean_recall_at_0.90": found[0] if found else None,
                 "threshold": found[1] if found else None,
                 "held_out": found[2] if found else None, "seconds": round(time.time() - start, 1)}
        history.append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "held_out"}),
              found[2] if found else "", flush=True)
        if found and (best is None or found[0] > best[0]):
            best = (found[0], found[1], epoch, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[3])
    net.eval()
    torch.save(best[3], args.work / "cnn.pt")
    export(net, args.work / "verifier.onnx")
    np.save(args.work / "fit_cnn_scores.npy", scores_of(net, crops))
    test_crops = np.load(args.work / "test_crops.npy")
    np.save(args.work / "test_cnn_scores.npy", scores_of(net, test_crops))
    record = {"widths": WIDTHS, "epochs": args.epochs, "lr": args.lr, "batch": args.batch,
              "seed": args.seed, "best_epoch": best[2], "threshold": best[1],
              "held_out_mean_recall_at_0.90": best[0], "history": history,
              "training_seconds": round(time.time() - start_all)}
    (args.work / "cnn_record.json").write_text(json.dumps(record, indent=1))
    print(f"kept epoch {best[2]}, threshold {best[1]}, held-out mean recall {best[0]}; "
          f"{record['training_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
