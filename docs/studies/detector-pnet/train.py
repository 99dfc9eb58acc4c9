"""Train the tiny P-Net on WORK/samples.npz (and WORK/hard.npz, the mined background, if asked).

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/train.py --work /tmp/pnet --arch p16s4 --epochs 20 --out p16s4_0.pt
    # after mine.py, train again from scratch with the hard negatives (as run_all.sh does):
    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/train.py --work /tmp/pnet --arch p16s4 --epochs 30 --hard hard_p16s4.npz --out p16s4.pt

Loss: binary cross-entropy of the face logit on face and background windows, plus 0.5 x smooth-L1
of the four box offsets on face and part-face windows. Augmentation: mirror (offsets swapped),
brightness/contrast and per-channel gain jitter. Two torch threads, seed 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pnet_common import PNet, to_tensor  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--arch", default="p12")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--init", default=None)
    ap.add_argument("--hard", default=None, help="npz of mined background windows in WORK")
    ap.add_argument("--max-minutes", type=float, default=8)
    ap.add_argument("--out", default="pnet.pt")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    work = Path(a.work)
    net = PNet(a.arch)
    if a.init:
        net.load_state_dict(torch.load(work / a.init, weights_only=False)["weights"])
    key = f"x{net.win}"
    d = np.load(work / "samples.npz")
    x, kind, reg = d[key], d["kind"], d["reg"]
    if a.hard:
        h = np.load(work / a.hard)
        x = np.concatenate([x, h[key]])
        kind = np.concatenate([kind, np.zeros(len(h[key]), np.int8)])
        reg = np.concatenate([reg, np.zeros((len(h[key]), 4), np.float32)])
    X = to_tensor(x)
    K = torch.from_numpy(kind.astype(np.int64))
    R = torch.from_numpy(reg)
    n = len(X)
    print(f"{a.arch}: {sum(p.numel() for p in net.parameters())} parameters; {n} windows "
          f"({(kind == 1).sum()} face, {(kind == 2).sum()} part, {(kind == 0).sum()} background)")
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * ((n + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=steps, pct_start=0.1)
    start = time.time()
    for ep in range(a.epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(n))
        tot = cls_n = cls_ok = 0.0
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            xb, kb, rb = X[idx].clone(), K[idx], R[idx].clone()
            b = len(idx)
            flip = torch.rand(b) < 0.5
            xb[flip] = xb[flip].flip(3)
            rb[flip] = torch.stack([-rb[flip, 2], rb[flip, 1], -rb[flip, 0], rb[flip, 3]], 1)
            gain = 1 + 0.1 * (torch.rand(b, 3, 1, 1) * 2 - 1)
            contrast = 1 + 0.25 * (torch.rand(b, 1, 1, 1) * 2 - 1)
            bright = 0.15 * (torch.rand(b, 1, 1, 1) * 2 - 1)
            xb = (xb * gain * contrast + bright).clamp(-1, 1)
            out = net(xb)[:, :, 0, 0]
            c = kb != 2
            lc = F.binary_cross_entropy_with_logits(out[c, 0], (kb[c] == 1).float())
            r = kb != 0
            lr_ = F.smooth_l1_loss(out[r, 1:], rb[r], beta=0.1) if r.any() else out.sum() * 0
            loss = lc + 0.5 * lr_
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * b
            cls_n += c.sum().item()
            cls_ok += ((out[c, 0] > 0) == (kb[c] == 1)).sum().item()
        print(f"epoch {ep + 1}: loss {tot / n:.4f}, window accuracy {cls_ok / cls_n:.4f}, "
              f"{time.time() - start:.0f} s", flush=True)
        if time.time() - start > a.max_minutes * 60:
            print("time box reached")
            break
    torch.save({"arch": a.arch, "weights": net.state_dict()}, work / a.out)
    print(f"trained in {time.time() - start:.0f} s -> {work / a.out}")


if __name__ == "__main__":
    main()
