"""Variants of the CNN face verifier's training, from ``rows.py``'s proposals.

Each variant is the shipped recipe (``maskhog.cnn_verifier_training.CNN_VERIFIER``, seed 0)
with one change: a share of the training photos (a learning curve), more epochs, or
another seed (how far a run's luck goes). Each is chosen on the held-out fifth and
judged on the test photos by ``_fit_and_judge``, the recipe's own code. It trains on a GPU
where torch sees one, else on the CPU.

    python variants.py prep --rows WORK/rows.json.gz --closeups WORK/closeups.npz \\
        --images DIR [DIR ...] --work TMP         # cut the crops from the photos
    python variants.py train NAME --work TMP       # one variant -> TMP/NAME.json
    python variants.py table --work TMP            # all variants' figures
"""

import argparse
import gzip
import json
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from maskhog.cnn_verifier_training import CNN_VERIFIER, _fit_and_judge
from maskhog.crops import CropSpec, crop_faces
from maskhog.detect import Face

#: name -> changes to the shipped settings; ``seed`` and ``learn_share`` (a seeded share of
#: the training scene photos; the close-ups stay) are this study's. Each is chosen among its
#: last 10 epochs, as the shipped recipe is.
VARIANTS = {
    "eighth": {"learn_share": 0.125},
    "quarter": {"learn_share": 0.25},
    "half": {"learn_share": 0.5},
    # as many training steps as the whole set's 20 epochs
    "half_steps": {"learn_share": 0.5, "epochs": 40, "select_from": 31},
    "seed1": {"seed": 1},
    # not run here (the 2-core machine's time ran out): for a session with a GPU
    "quarter_steps": {"learn_share": 0.25, "epochs": 80, "select_from": 71},
    "epochs40": {"epochs": 40, "select_from": 31},
}


def _cut(job):
    """The crops of one photo's proposals at each scale it was searched at."""
    import cv2

    from maskhog.io import read_image

    path, searches = job
    photo = read_image(path)
    spec = CropSpec(int(CNN_VERIFIER["crop_size"]), 0.0, False, color=True)
    out = []
    for scale, boxes in searches:
        image = photo if scale == 1 else cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        out.append(crop_faces(image, boxes, spec))
    return out


def prep(args):
    with gzip.open(args.rows, "rt") as f:
        rows = json.load(f)
    where = {p.name: p for d in args.images if Path(d).is_dir() for p in Path(d).iterdir()}
    jobs, slots = {}, []
    for part in ("learn", "held", "test"):
        kept = []
        for r in rows[part]:
            if r["path"] not in where:
                continue
            if r["X"]:
                jobs.setdefault(r["path"], []).append((r["scale"], r["X"]))
                slots.append((part, len(kept), r["path"], len(jobs[r["path"]]) - 1))
            kept.append(r)
        print(f"{part}: {len(kept)} of {len(rows[part])} rows have their photo")
        rows[part] = kept
    start = time.time()
    paths = list(jobs)
    with Pool() as pool:
        cut = dict(zip(paths, pool.map(_cut, [(str(where[p]), jobs[p]) for p in paths], chunksize=4)))
    crops, at = [], 0
    for part, i, path, k in slots:
        X = cut[path][k]
        rows[part][i]["at"] = [at, at + len(X)]
        crops.append(X)
        at += len(X)
    closeups = np.load(args.closeups)["X"]
    for r in rows["closeups"]:
        r["at"] = [at, at + len(r["iou"])]
        at += len(r["iou"])
    crops.append(closeups)
    args.work.mkdir(parents=True, exist_ok=True)
    np.save(args.work / "crops.npy", np.concatenate(crops))
    with open(args.work / "rows.json", "w") as f:
        json.dump(rows, f)
    print(f"{at} crops in {time.time() - start:.0f} s")


def _rows(raw, crops):
    """``_proposals`` rows again, their crops from ``crops``."""
    out = []
    for r in raw:
        row = {"photo": r["photo"], "iou": np.array(r["iou"]), "bare": np.array(r["bare"], bool),
               "X": crops[r["at"][0]:r["at"][1]] if "at" in r else None}
        if "faces" in r:
            row.update(scale=r["scale"], truth=[tuple(t) for t in r["truth"]],
                       faces=[Face(tuple(b), s) for b, s in r["faces"]])
        out.append(row)
    return out


def train(args):
    import torch

    change = dict(VARIANTS[args.name])
    seed, share = change.pop("seed", 0), change.pop("learn_share", 1.0)
    settings = {**CNN_VERIFIER, **change}
    if args.epochs:   # a quick check of this script
        settings.update(epochs=args.epochs, select_from=1)
    with open(args.work / "rows.json") as f:
        raw = json.load(f)
    crops = np.load(args.work / "crops.npy", mmap_mode="r")
    learn, held, test = (_rows(raw[p], crops) for p in ("learn", "held", "test"))
    if share < 1:
        photos = np.unique([r["photo"] for r in learn])
        chosen = set(np.random.default_rng(0).permutation(photos)[:round(share * len(photos))].tolist())
        learn = [r for r in learn if r["photo"] in chosen]
    n_photos = len({r["photo"] for r in learn})
    learn += _rows(raw["closeups"], crops)
    log = open(args.work / f"{args.name}.log", "w")

    def log_fn(message):
        print(message, file=log, flush=True)

    start = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net, figures = _fit_and_judge(learn, held, test, settings, seed=seed, threads=args.threads,
                                  fallback=raw["fallback"], device=device, log_fn=log_fn)
    figures.update(name=args.name, change=VARIANTS[args.name], learn_photos=n_photos, device=device,
                   test_photos=len({r["photo"] for r in test}), seconds=round(time.time() - start, 1))
    with open(args.work / f"{args.name}.json", "w") as f:
        json.dump(figures, f)


def _short(f):
    return "/".join(f"{f[k]:.3f}" for k in ("recall_with_mask", "recall_without_mask", "precision"))


def _curve(points):
    """How mean recall grows with the training photos ``[(photos, mean recall)]``: the gain for
    each doubling (a straight line in log2 photos) and the photos at which each line reaches
    0.90, also where the missed share falls as a power of the photos."""
    n, r = np.array(points, float).T
    per_doubling, at = np.polyfit(np.log2(n), r, 1)
    power, scale = np.polyfit(np.log(n), np.log(1 - r), 1)
    return (round(per_doubling, 3), int(2 ** ((0.90 - at) / per_doubling)),
            round(power, 3), int(np.exp((np.log(0.10) - scale) / power)))


def table(args):
    print("| variant | learn photos | epoch kept | held-out (rule) | test (rule) | test (crop alone) | s |")
    print("|---|---|---|---|---|---|---|")
    # The shipped verifier is the recipe on these very rows (seed 0, two threads): its record.
    shipped = json.loads((Path(__file__).resolve().parents[3] / "train" / "detector_verifier_cnn.json").read_text())
    shipped.update(learn_photos=shipped["photos"]["fit"] - shipped["photos"]["held_out"])
    curve = []   # the same recipe on fewer photos: (photos, held-out mean, test mean)
    for name in ["shipped", *VARIANTS]:
        path = args.work / f"{name}.json"
        if name == "shipped":
            f = shipped
        elif not path.exists():
            last = (args.work / f"{name}.log")
            tail = last.read_text().strip().splitlines()[-1:] if last.exists() else ["not run"]
            print(f"| {name} | unfinished: {tail[0][:100]} |")
            continue
        else:
            f = json.loads(path.read_text())
        held = f["held_out_figures"]
        mean = (held["recall_with_mask"] + held["recall_without_mask"]) / 2
        print(f"| {name} | {f['learn_photos']} | {f['best_epoch']} | {_short(held)} (mean {mean:.3f}) | "
              f"{_short(f['test'])} | {_short(f['test_crop_alone'])} | {f['seconds']:.0f} |")
        if name == "shipped" or (name in ("eighth", "quarter", "half")):
            test = f["test"]
            curve.append((f["learn_photos"], mean, (test["recall_with_mask"] + test["recall_without_mask"]) / 2))
    if len(curve) > 2:
        for k, part in ((1, "held-out"), (2, "test")):
            gain, photos, power, photos_power = _curve([(c[0], c[k]) for c in curve])
            print(f"{part}: {gain} mean recall a doubling, 0.90 at {photos} photos; missed share ~ photos^{power}, "
                  f"0.90 at {photos_power} photos")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prep")
    p.add_argument("--rows", type=Path, required=True)
    p.add_argument("--closeups", type=Path, required=True)
    p.add_argument("--images", type=Path, nargs="+", required=True)
    p.add_argument("--work", type=Path, required=True)
    p = sub.add_parser("train")
    p.add_argument("name", choices=sorted(VARIANTS))
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, help="instead of the variant's (to check this script)")
    p = sub.add_parser("table")
    p.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    {"prep": prep, "train": train, "table": table}[args.verb](args)
