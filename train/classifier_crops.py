"""How the default detector frames the classifiers' training faces (docs/design.md#classifier-crops).

    python train/classifier_crops.py                 # data in ../shared/data

The classifiers' crops are cut where the training recipe's finder
(``face_finder("maskhog")``, the run-time detector) frames each face. This
counts, per class, the ``faces/`` photos it finds a face in (the rest are cut
as whole photos) and the annotated scene faces it frames at IoU >= 0.4 (what
``scene_boxes="found"`` cuts at the found box; the rest keep their annotated
box, or are left out with "found-only"), and how the found boxes differ from the
annotated ones. Writes train/classifier_crops.json.
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from maskhog.io import ImageError, read_image
from maskhog.training.data import load_dataset
from maskhog.training.faces import face_finder, found_boxes, whole_or_detected

HERE = Path(__file__).resolve().parent


def _framed(items):
    """Per image: how its faces were framed (one finder per job: it is built once)."""
    finder = face_finder("maskhog")
    out = []
    for path, samples in items:
        try:
            image = read_image(path)
        except ImageError:
            continue
        boxed = [s for s in samples if s.box is not None]
        if not boxed:
            out += [(s.label, whole_or_detected(image, finder)[1], None, None) for s in samples]
            continue
        for s, b in zip(boxed, found_boxes([s.box for s in boxed], finder.find_faces(image))):
            out.append((s.label, "found" if b else "not found", s.box, b))
    return out


def framing(data, n_jobs=2):
    by_image = {}
    for s in data.samples:
        by_image.setdefault(s.path, []).append(s)
    items = list(by_image.items())
    chunks = [items[i::n_jobs * 8] for i in range(n_jobs * 8)]
    return [row for part in Parallel(n_jobs=n_jobs)(delayed(_framed)(c) for c in chunks) for row in part]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    start = time.time()
    record = {"finder": "face_finder('maskhog'): the default detector and its later looks"}
    faces = framing(load_dataset(args.data / "faces"))
    n, hit = Counter(r[0] for r in faces), Counter(r[0] for r in faces if r[1] == "detector")
    record["faces"] = {c: {"photos": n[c], "found": hit[c], "share": round(hit[c] / n[c], 4)} for c in n}
    scenes = framing(load_dataset(args.data / "scenes"))
    n, hit = Counter(r[0] for r in scenes), Counter(r[0] for r in scenes if r[1] == "found")
    record["scenes"] = {c: {"faces": n[c], "found": hit[c], "share": round(hit[c] / n[c], 4)} for c in n}
    big = [r for r in scenes if min(r[2][2] - r[2][0], r[2][3] - r[2][1]) >= 24]
    n24, hit24 = Counter(r[0] for r in big), Counter(r[0] for r in big if r[1] == "found")
    record["scenes_24px"] = {c: {"faces": n24[c], "found": hit24[c], "share": round(hit24[c] / n24[c], 4)}
                             for c in n24}
    # How a found box sits on its annotated one: centre shift over the annotated side, side ratios.
    pairs = np.array([(*r[2], *r[3]) for r in scenes if r[3] is not None], float)
    a, f = pairs[:, :4], pairs[:, 4:]
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    record["found_vs_annotated"] = {
        "faces": len(pairs),
        "median_width_ratio": round(float(np.median((f[:, 2] - f[:, 0]) / aw)), 3),
        "median_height_ratio": round(float(np.median((f[:, 3] - f[:, 1]) / ah)), 3),
        "median_dx": round(float(np.median(((f[:, 0] + f[:, 2]) - (a[:, 0] + a[:, 2])) / 2 / aw)), 3),
        "median_dy": round(float(np.median(((f[:, 1] + f[:, 3]) - (a[:, 1] + a[:, 3])) / 2 / ah)), 3),
    }
    record["seconds"] = round(time.time() - start, 1)
    (HERE / "classifier_crops.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
