"""Share of faces (>= 24 px) proposed, P-Net against the fHOG templates, on the held or test photos.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/evaluate.py --work /tmp/pnet --net p16s4.pt --split held
    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/evaluate.py --work /tmp/pnet --net p16s4.pt --split test

Needs WORK/fhog_SPLIT.pkl (fhog_props.py). A face counts when its shorter side is >= 24 px and is
proposed when some proposal box overlaps it at IoU >= 0.4. P-Net: scanned from faces of 24 px
(pyramid factor 0.7), NMS 0.5 per level and across levels, then the top K by logit (or all above
a logit threshold). Prints markdown tables; writes WORK/eval_NET_SPLIT.json.
"""

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pnet_common import counted, load_net, proposed_flags, scan, split  # noqa: E402

from maskhog.detect import Face, merge_duplicates  # noqa: E402
from maskhog.io import read_image  # noqa: E402

CLASSES = ("with_mask", "without_mask", "incorrect_mask")


def figures(faces_by_photo, boxes_by_photo):
    """{class: share proposed}, proposals per photo, and the per-face flags (list of arrays)."""
    hit, n, flags = {c: 0 for c in CLASSES}, {c: 0 for c in CLASSES}, []
    for p, faces in faces_by_photo.items():
        f = proposed_flags(faces, boxes_by_photo[p])
        flags.append(f)
        for (lab, _), ok in zip(faces, f):
            n[lab] += 1
            hit[lab] += int(ok)
    per = float(np.mean([len(boxes_by_photo[p]) for p in faces_by_photo]))
    return {c: hit[c] / n[c] if n[c] else float("nan") for c in CLASSES}, per, flags, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    ap.add_argument("--net", default="p16s4.pt")
    ap.add_argument("--split", default="held", choices=("held", "test"))
    ap.add_argument("--low", type=float, default=-3.0, help="lowest logit kept before top K")
    ap.add_argument("--ks", default="5,10,15,20,40,80")
    ap.add_argument("--thresholds", default="3,2.5,2,1.5,1,0.5,0")
    a = ap.parse_args()
    torch.set_num_threads(2)
    work = Path(a.work)
    boxed, learn, held, test = split()
    photos = held if a.split == "held" else test
    net = load_net(work / a.net)
    start = time.time()
    pn = {p: scan(net, read_image(p), a.low, top_k=400, level_cap=3000) for p in photos}
    scan_s = time.time() - start
    fh = pickle.load(open(work / f"fhog_{a.split}.pkl", "rb"))
    faces = {p: counted(boxed[p]) for p in photos}
    rows, res = [], {}

    def row(name, boxes_by_photo, base_flags=None):
        r, per, flags, n = figures(faces, boxes_by_photo)
        extra = ""
        small = ""
        if base_flags is not None:   # of the faces the fHOG templates (-1.4) miss, the share this one proposes
            miss = np.concatenate([~b for b in base_flags])
            got = np.concatenate(flags)
            extra = f"{got[miss].mean():.2f}"
        # faces of 24-40 px
        sides = np.array([min(b[2] - b[0], b[3] - b[1]) for p in faces for _, b in faces[p]])
        got = np.concatenate(flags)
        small = f"{got[sides < 40].mean():.2f}"
        rows.append(f"| {name} | {per:.1f} | {r['with_mask']:.3f} | {r['without_mask']:.3f} | "
                    f"{r['incorrect_mask']:.2f} | {small} | {extra} |")
        res[name] = {"per_photo": per, **r, "small_24_40": float(small), "of_fhog_misses": extra}
        return flags

    fh14 = {p: fh[p][0][fh[p][1] >= -1.4] for p in photos}
    base = row("fHOG >= -1.4", fh14)
    merged = {p: np.array([f.box for f in merge_duplicates([Face(tuple(b), float(sc)) for b, sc in
                                                            zip(fh[p][0], fh[p][1]) if sc >= -1.4])],
                          float).reshape(-1, 4) for p in photos}
    row("fHOG >= -1.4, duplicates merged", merged, base)
    for t in (-1.8, -2.2):
        row(f"fHOG >= {t}", {p: fh[p][0][fh[p][1] >= t] for p in photos}, base)
    for k in [int(v) for v in a.ks.split(",")]:
        row(f"P-Net top {k}", {p: pn[p][0][:k] for p in photos}, base)
    for t in [float(v) for v in a.thresholds.split(",")]:
        row(f"P-Net logit >= {t:g}", {p: pn[p][0][pn[p][1] >= t] for p in photos}, base)
    for k in [int(v) for v in a.ks.split(",")]:
        row(f"fHOG -1.4 + P-Net top {k}",
            {p: np.concatenate([fh14[p], pn[p][0][:k]]) for p in photos}, base)
    for t in [float(v) for v in a.thresholds.split(",")]:
        row(f"fHOG -1.4 + P-Net logit >= {t:g}",
            {p: np.concatenate([fh14[p], pn[p][0][pn[p][1] >= t]]) for p in photos}, base)
    _, _, _, n = figures(faces, fh14)
    print(f"{a.split}: {len(photos)} photos; faces >= 24 px: {n}; P-Net scan {scan_s:.0f} s (2 threads)\n")
    print("| proposer | proposals/photo | with_mask | without_mask | incorrect | faces 24-40 px | of fHOG(-1.4) misses |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    json.dump({"split": a.split, "faces": n, "rows": res}, open(work / f"eval_{Path(a.net).stem}_{a.split}.json", "w"),
              indent=1)


if __name__ == "__main__":
    main()
