"""ms per 640x480 frame, one thread: the P-Net pyramid scan with NMS against the fHOG templates.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/timing.py --work /tmp/pnet --nets p12.pt,p16s4.pt,p16s4w.pt,p16s4x.pt --threshold 1.5 --top-k 80

The first --frames test photos, resized to 640x480, each scanned --repeat times; median per frame.
P-Net: faces from 24 px, pyramid factor 0.7, logit >= --threshold (and >= 0), NMS 0.5, top K.
fHOG: MaskHog(verifier=False).propose(frame, -1.4), in the same run.
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pnet_common import load_net, scan, split  # noqa: E402

from maskhog.detect import MaskHog  # noqa: E402
from maskhog.io import read_image  # noqa: E402


def per_frame(fn, frames, repeat):
    fn(frames[0])
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        for f in frames:
            fn(f)
        out.append((time.perf_counter() - t) * 1000 / len(frames))
    return float(np.median(out)), float(np.min(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--nets", default="p16s4.pt")
    ap.add_argument("--threshold", type=float, default=2.0)
    ap.add_argument("--top-k", type=int, default=80)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=9)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    boxed, learn, held, test = split()
    frames = [cv2.resize(read_image(p), (640, 480), interpolation=cv2.INTER_AREA) for p in test[:a.frames]]
    det = MaskHog(verifier=False)
    fh, fmin = per_frame(lambda f: det.propose(f, -1.4), frames, a.repeat)
    print(f"fHOG propose(-1.4): {fh:.1f} ms per 640x480 frame (1 thread; best repeat {fmin:.1f})")
    for name in a.nets.split(","):
        net = load_net(Path(a.work) / name)
        for th in (a.threshold, 0.0):
            ms, mmin = per_frame(lambda f: scan(net, f, th, top_k=a.top_k), frames, a.repeat)
            print(f"P-Net {name} ({net.arch}), logit >= {th:g}, top {a.top_k}: {ms:.1f} ms per frame "
                  f"(best repeat {mmin:.1f}; {ms / fh:.2f} x fHOG)")
    fh, fmin = per_frame(lambda f: det.propose(f, -1.4), frames, a.repeat)
    print(f"fHOG propose(-1.4) again: {fh:.1f} ms (best repeat {fmin:.1f})")


if __name__ == "__main__":
    main()
