"""Step 3 of the CNN-verifier study: test figures of the templates, the SVM verifier and the CNN.

    cd /work/main && OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python \
        docs/studies/detector-cnn-verifier/evaluate.py [--work /tmp/cnnver]

Needs ``proposals.py`` and ``train_cnn.py`` first. On the 137 test photos,
at scale 1.0 and 1.5 separately, faces >= 24 px, IoU >= 0.4, duplicates merged
after the verifier (``maskhog.detector_training._kept`` / ``_alone`` /
``_detection_figures``, as train_verifier measures):

(a) the templates alone at -0.175;
(b) the shipped SVM verifier (``maskhog/models/face_verifier.npz``) at its threshold;
(b') the same SVM recipe (``_fit_verifier``, C = 0.001) refitted on the CNN's
     training photos only, threshold picked on the CNN's held-out photos: the
     like-for-like reference of (c) (same photos, same threshold rule);
(c) the CNN at the threshold ``train_cnn.py`` picked on the held-out photos;
(d1) mean of the standardised scores of (b') and (c) (means and deviations of
     the held-out proposals), threshold by the same rule;
(d2) a cascade: (b') decides where it is sure (its score farther than a band
     from its threshold); the CNN decides the rest (band: the 20% or 40% of
     held-out proposals closest to the threshold), CNN threshold by the same rule.

Then the recall at fixed precision on the test photos (the best threshold *on
the test photos*, for the curve only) for (b), (b'), (c), (d1), and a paired
bootstrap over test photos (2000 resamples) of the recall differences
(c) - (b) at the chosen thresholds. Writes ``results.json`` under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from maskhog import detector_training as dt  # noqa: E402
from maskhog.labels import CLASSES  # noqa: E402
from maskhog.verify import FaceVerifier  # noqa: E402

MIN_SIDE, FLOOR = 24, 0.90
SHIPPED = Path(__file__).resolve().parents[3] / "maskhog" / "models" / "face_verifier.npz"


def part(work, name):
    rows = pickle.loads((work / f"{name}_rows.pkl").read_bytes())
    return rows, np.load(work / f"{name}_X.npy"), np.load(work / f"{name}_cnn_scores.npy")


def per_row(rows, s):
    return [s[r["start"]:r["stop"]] for r in rows]


def reindex(rows):
    """Copies of ``rows`` whose start/stop index a vector of their proposals alone, and that index."""
    out, idx, at = [], [], 0
    for r in rows:
        n = r["stop"] - r["start"]
        out.append(dict(r, start=at, stop=at + n))
        idx.append(np.arange(r["start"], r["stop"]))
        at += n
    return out, np.concatenate(idx)


def figures(rows, s, t):
    return dt._detection_figures(dt._kept(rows, per_row(rows, s), t), MIN_SIDE)


def mean_recall(m):
    return (m.get("recall_with_mask", 0) + m.get("recall_without_mask", 0)) / 2


def best_threshold(rows, s, floor=FLOOR, candidates=None):
    """Highest mean recall (masked, unmasked) at precision >= floor: (score, threshold, figures)."""
    best = None
    if candidates is None:
        candidates = np.unique(np.quantile(s, np.linspace(0, 1, 401)))
    for t in candidates:
        m = figures(rows, s, t)
        if m["precision"] >= floor and (best is None or mean_recall(m) > best[0]):
            best = (round(mean_recall(m), 4), round(float(t), 6), m)
    return best


def brief(m):
    return {k: v for k, v in m.items() if k != "faces"}


def photo_counts(rows, s, t):
    """Per photo: (counted faces, found faces per class, false detections)."""
    kept = dt._kept(rows, per_row(rows, s), t) if s is not None else dt._alone(rows, t)
    return [dt.match_faces(f, truth, MIN_SIDE) for f, truth in kept]


def bootstrap(a, b, n=2000, seed=0):
    """Paired bootstrap over photos of (recall per class, precision) of b minus a: mean, 2.5%, 97.5%."""
    rng = np.random.default_rng(seed)
    keys = [f"recall_{c}" for c in CLASSES] + ["precision"]

    def stats(counts, pick):
        n, hit, false = Counter(), Counter(), 0
        for i in pick:
            n, hit, false = n + counts[i][0], hit + counts[i][1], false + counts[i][2]
        found = sum(hit.values())
        return [hit[c] / max(1, n[c]) for c in CLASSES] + [found / max(1, found + false)]

    d = []
    for _ in range(n):
        pick = rng.integers(0, len(a), len(a))
        d.append(np.subtract(stats(b, pick), stats(a, pick)))
    d = np.array(d)
    return {k: [round(float(v), 4) for v in (d[:, i].mean(), *np.percentile(d[:, i], [2.5, 97.5]))]
            for i, k in enumerate(keys)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/cnnver"))
    args = ap.parse_args()
    start = time.time()
    cnn_record = json.loads((args.work / "cnn_record.json").read_text())
    fit_rows, fit_X, fit_cnn = part(args.work, "fit")
    test_rows, test_X, test_cnn = part(args.work, "test")
    shipped = FaceVerifier.load(SHIPPED)

    # (b') the SVM recipe on the CNN's training photos; held-out photos for thresholds.
    train_rows = [dict(r, X=fit_X[r["start"]:r["stop"]] if r["stop"] > r["start"] else None)
                  for r in fit_rows if r["photo"] % 5 != 0]
    coef, intercept = dt._fit_verifier(train_rows, 0.001)
    held_rows, held_idx = reindex([r for r in fit_rows if r["photo"] % 5 == 0])
    held = {"svm80": fit_X[held_idx].astype(np.float64) @ coef + intercept, "cnn": fit_cnn[held_idx]}
    test = {"svm": shipped.decision_function(test_X), "svm80": test_X.astype(np.float64) @ coef + intercept,
            "cnn": test_cnn}
    thresholds = {"svm": shipped.threshold, "cnn": cnn_record["threshold"]}
    chosen = {"cnn": {"held_out": cnn_record["held_out_mean_recall_at_0.90"], "threshold": thresholds["cnn"],
                      "epoch": cnn_record["best_epoch"]}}
    b = best_threshold(held_rows, held["svm80"])
    thresholds["svm80"] = b[1]
    chosen["svm80"] = {"held_out": b[0], "threshold": b[1], "figures": brief(b[2])}
    print(f"(b') SVM refitted on the CNN's photos: threshold {b[1]}, held-out {brief(b[2])}", flush=True)

    # (d1) mean of standardised scores.
    mu = {k: (held[k].mean(), held[k].std()) for k in ("svm80", "cnn")}

    def z(scores):
        return sum((scores[k] - mu[k][0]) / mu[k][1] for k in ("svm80", "cnn")) / 2

    held["mean_z"], test["mean_z"] = z(held), z(test)
    b = best_threshold(held_rows, held["mean_z"])
    thresholds["mean_z"] = b[1]
    chosen["mean_z"] = {"held_out": b[0], "threshold": b[1], "figures": brief(b[2]),
                        "standardisation": {k: [round(float(v), 4) for v in mu[k]] for k in mu}}
    print(f"(d1) mean of standardised scores: threshold {b[1]}, held-out {brief(b[2])}", flush=True)

    # (d2) cascade: the SVM decides where sure, the CNN the rest.
    big = 1e6
    for frac in (0.2, 0.4):
        band = float(np.quantile(np.abs(held["svm80"] - thresholds["svm80"]), frac))

        def cascade(scores, band=band):
            gap = scores["svm80"] - thresholds["svm80"]
            return np.where(np.abs(gap) > band, np.sign(gap) * big, scores["cnn"]), np.abs(gap) <= band

        name = f"cascade{int(frac * 100)}"
        held[name], unsure = cascade(held)
        cands = np.unique(np.quantile(held["cnn"][unsure], np.linspace(0, 1, 201)))
        b = best_threshold(held_rows, held[name], candidates=cands)
        test[name], test_unsure = cascade(test)
        thresholds[name] = b[1]
        chosen[name] = {"held_out": b[0], "threshold": b[1], "band": round(band, 4), "figures": brief(b[2]),
                        "test_fraction_to_cnn": round(float(test_unsure.mean()), 4)}
        print(f"(d2) {name}: band {band:.3f}, CNN threshold {b[1]}, held-out {brief(b[2])}, "
              f"test proposals to the CNN {test_unsure.mean():.2f}", flush=True)

    methods = {"svm": "(b) shipped SVM", "svm80": "(b') SVM, CNN's photos", "cnn": "(c) CNN",
               "mean_z": "(d1) mean z", "cascade20": "(d2) cascade 20%", "cascade40": "(d2) cascade 40%"}
    table = {}
    for scale in (1.0, 1.5):
        rows = [r for r in test_rows if r["scale"] == scale]
        table[str(scale)] = {"(a) templates alone -0.175": brief(dt._detection_figures(dt._alone(rows, -0.175),
                                                                                          MIN_SIDE)),
                             "all proposals (ceiling)": brief(figures(rows, test["cnn"], -np.inf))}
        for key, name in methods.items():
            table[str(scale)][name] = brief(figures(rows, test[key], thresholds[key]))
    faces = figures([r for r in test_rows if r["scale"] == 1.0], test["cnn"], -np.inf)["faces"]
    for scale, t in table.items():
        print(f"\nscale {scale}  (faces: {faces})")
        print(f"{'method':32s} {'masked':>7s} {'unmasked':>8s} {'incorrect':>9s} {'precision':>9s}")
        for name, m in t.items():
            print(f"{name:32s} {m['recall_with_mask']:7.3f} {m['recall_without_mask']:8.3f} "
                  f"{m['recall_incorrect_mask']:9.3f} {m['precision']:9.3f}")

    curves = {}
    rows1 = [r for r in test_rows if r["scale"] == 1.0]
    for key in ("svm", "svm80", "cnn", "mean_z"):
        sc = np.concatenate(per_row(rows1, test[key]))
        curves[key] = {}
        for p in (0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96):
            b = best_threshold(rows1, test[key], p, np.unique(np.quantile(sc, np.linspace(0, 1, 401))))
            curves[key][p] = brief(b[2]) if b else None
    print("\nrecall at precision, test photos, scale 1.0 (threshold chosen on the test photos: curve only)")
    print(f"{'precision >=':>12s} " + " ".join(f"{methods[k]:>24s}" for k in curves))
    for p in (0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96):
        cells = []
        for k in curves:
            m = curves[k][p]
            cells.append(f"{m['recall_with_mask']:.3f}/{m['recall_without_mask']:.3f} @{m['precision']:.3f}"
                         if m else "-")
        print(f"{p:12.2f} " + " ".join(f"{c:>24s}" for c in cells))

    # Recall by face size (shorter side), scale 1.0: faces found >= lo minus those >= hi.
    bins = (24, 32, 48, 96, 10 ** 6)
    by_size = {}
    for key, name in (("ceiling", "all proposals"), ("svm", methods["svm"]), ("cnn", methods["cnn"]),
                      ("mean_z", methods["mean_z"])):
        s, t = (test["cnn"], -np.inf) if key == "ceiling" else (test[key], thresholds[key])
        kept = dt._kept(rows1, per_row(rows1, s), t)
        counts = {lo: [dt.match_faces(f, truth, lo) for f, truth in kept] for lo in bins}
        tot = {lo: (sum((c[0] for c in counts[lo]), Counter()), sum((c[1] for c in counts[lo]), Counter()))
               for lo in bins}
        by_size[name] = {}
        for lo, hi in zip(bins, bins[1:]):
            n, hit = tot[lo][0] - tot[hi][0], tot[lo][1] - tot[hi][1]
            by_size[name][f"{lo}-{hi if hi < 10 ** 6 else ''}"] = {
                c: (round(hit[c] / n[c], 3) if n[c] else None, n[c]) for c in ("with_mask", "without_mask")}
    print("\nrecall by face size (shorter side, px), scale 1.0: masked / unmasked (faces)")
    for name, v in by_size.items():
        print(f"{name:24s} " + "  ".join(f"{b}: {m['with_mask'][0]}/{m['without_mask'][0]} "
                                          f"({m['with_mask'][1]}/{m['without_mask'][1]})" for b, m in v.items()))

    boot = {}
    for scale in (1.0, 1.5):
        rows = [r for r in test_rows if r["scale"] == scale]
        a = photo_counts(rows, test["svm"], thresholds["svm"])
        for key in ("cnn", "mean_z"):
            boot[f"{key} - svm @ {scale}"] = bootstrap(a, photo_counts(rows, test[key], thresholds[key]))
    print("\npaired bootstrap over test photos, difference to the shipped SVM (mean, 2.5%, 97.5%)")
    for k, v in boot.items():
        print(k, v)
    results = {"thresholds": thresholds, "chosen_on_held_out": chosen, "test": table,
               "curves_scale_1.0": {k: {str(p): m for p, m in v.items()} for k, v in curves.items()},
               "bootstrap": boot, "by_size_scale_1.0": by_size, "cnn_record": {k: v for k, v in cnn_record.items() if k != "history"},
               "seconds": round(time.time() - start)}
    (args.work / "results.json").write_text(json.dumps(results, indent=1, default=float))
    print(f"\n{time.time() - start:.0f} s; {args.work / 'results.json'}")


if __name__ == "__main__":
    main()
