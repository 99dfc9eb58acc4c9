"""Cache the fHOG templates' proposals (score >= -2.2) for the held and test photos.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-pnet/fhog_props.py --work /tmp/pnet

Writes WORK/fhog_held.pkl and WORK/fhog_test.pkl: {photo path: (boxes (n, 4), scores (n,))} from
MaskHog(verifier=False).propose(image, -2.2), the photo as it is (raw proposals, duplicates kept).
"""

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pnet_common import split  # noqa: E402

from maskhog.detect import MaskHog  # noqa: E402
from maskhog.io import read_image  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/pnet")
    a = ap.parse_args()
    boxed, learn, held, test = split()
    det = MaskHog(verifier=False)
    for name, photos in (("held", held), ("test", test)):
        out = {}
        for p in photos:
            faces = det.propose(read_image(p), -2.2)
            out[p] = (np.array([f.box for f in faces], float).reshape(-1, 4), np.array([f.score for f in faces]))
        with open(Path(a.work) / f"fhog_{name}.pkl", "wb") as f:
            pickle.dump(out, f)
        print(name, len(photos), "photos,", sum(len(v[1]) for v in out.values()) / len(photos), "proposals/photo at -2.2")


if __name__ == "__main__":
    main()
