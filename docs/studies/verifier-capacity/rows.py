"""Write what the CNN verifier recipe learns from, is chosen on and is judged on, so that
variants of its training can run on another machine (``variants.py``).

The proposals of ``maskhog.cnn_verifier_training._verifier_rows`` are kept as boxes (the
other machine cuts the crops from the same photos); the framed close-ups, which are cut
from framed face photos rather than scene photos, are kept as crops.

    MASKHOG_DATA=../shared/data python rows.py --work WORK

writes ``WORK/rows.json.gz`` and ``WORK/closeups.npz``.
"""

import argparse
import gzip
import json
import os
from pathlib import Path

import numpy as np

from maskhog.cnn_verifier_training import CNN_VERIFIER, _closeup_rows, _verifier_rows
from maskhog.crops import CropSpec
from maskhog.detect import MaskHog
from maskhog.detector_training import _split_scenes


def as_json(row, boxes=True):
    """A row with its numpy arrays as lists; ``X`` (the proposals' boxes in the searched
    image's pixels) kept when ``boxes``."""
    out = {"photo": int(row["photo"]), "iou": np.asarray(row["iou"], float).tolist(),
           "bare": np.asarray(row["bare"], bool).tolist()}
    if "faces" in row:
        out.update(path=Path(row["path"]).name, scale=row["scale"], truth=[list(t) for t in row["truth"]],
                   faces=[[list(f.box), f.score] for f in row["faces"]])
    if boxes:
        out["X"] = None if row["X"] is None else np.asarray(row["X"], float).tolist()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
    args.work.mkdir(parents=True, exist_ok=True)
    settings = CNN_VERIFIER
    proposer = MaskHog(verifier=False)
    _, (train, val, test) = _split_scenes([data / "scenes"], 0)
    learn, held, test_rows, learnt = _verifier_rows(
        [data / "scenes"], proposer, settings, 0, lambda image, found: np.array([f.box for f in found], float))
    for r in learn + held:
        r["path"] = (train + val)[r["photo"]]
    for r in test_rows:
        r["path"] = test[r["photo"]]
    # rows name their photo by its index in (train + val), or in test
    rows = {name: [as_json(r) for r in part] for name, part in (("learn", learn), ("held", held), ("test", test_rows))}
    crop = CropSpec(int(settings["crop_size"]), 0.0, False, color=True)
    looks = _closeup_rows(data / "faces", learnt, proposer.with_pose(), crop, settings["closeups"], 0,
                          settings["face_iou"])
    rows["closeups"] = [as_json(r, boxes=False) for r in looks]
    np.savez_compressed(args.work / "closeups.npz", X=np.concatenate([r["X"] for r in looks]))
    rows["fallback"] = proposer.threshold
    with gzip.open(args.work / "rows.json.gz", "wt") as f:
        json.dump(rows, f)
    n = {k: sum(len(r["iou"]) for r in v) for k, v in rows.items() if k != "fallback"}
    print("proposals per part:", n, "photos:", {k: len({r["photo"] for r in v}) for k, v in rows.items()
                                                 if k in ("learn", "held", "test")})
