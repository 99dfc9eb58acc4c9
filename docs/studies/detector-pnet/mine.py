"""Hard background windows: the best-scoring P-Net proposals on the `learn` photos that overlap
no face (IoU < 0.3 with every face box and its square), cut at 12 and 16 px.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/mine.py --work /tmp/pnet --net p16s4_0.pt --per-photo 60 --out hard_p16s4.npz
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import crop, square  # noqa: E402
from pnet_common import iou_matrix, load_net, scan, split  # noqa: E402

from maskhog.io import read_image  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--net", default="p16s4_0.pt")
    ap.add_argument("--per-photo", type=int, default=60)
    ap.add_argument("--prev", default=None, help="an earlier hard npz in WORK to append to")
    ap.add_argument("--out", default="hard.npz")
    a = ap.parse_args()
    torch.set_num_threads(2)
    work = Path(a.work)
    net = load_net(work / a.net)
    boxed, learn, held, test = split()
    x12, x16, scores = [], [], []
    start = time.time()
    for p in learn:
        img = read_image(p)
        boxes = np.array([b for _, b in boxed[p]], float)
        squares = np.array([square(b) for b in boxes])
        b, s = scan(net, img, -2.0, top_k=400, level_cap=3000)
        if len(b) == 0:
            continue
        ok = (iou_matrix(b, boxes).max(1) < 0.3) & (iou_matrix(b, squares).max(1) < 0.3)
        for box in b[ok][:a.per_photo]:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            side = max(12.0, max(box[2] - box[0], box[3] - box[1]))
            (p12, p16), _ = crop(img, (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
            x12.append(p12); x16.append(p16)
        scores.extend(s[ok][:a.per_photo])
    x12, x16 = np.array(x12), np.array(x16)
    if a.prev:
        prev = np.load(work / a.prev)
        x12, x16 = np.concatenate([prev["x12"], x12]), np.concatenate([prev["x16"], x16])
    np.savez_compressed(work / a.out, x12=x12, x16=x16)
    print(f"{len(scores)} hard windows from {len(learn)} photos (median logit {np.median(scores):.2f}); "
          f"{len(x12)} in {a.out}; {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
