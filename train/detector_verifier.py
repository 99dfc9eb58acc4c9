"""Reproduce the face verifier shipped with maskhog's detector (maskhog/models/face_verifier.npz).

    python train/detector_verifier.py [--data ../shared/data] [--out maskhog/models/face_verifier.npz]

The shipped templates (maskhog/models/face_fhog48_*.svm) propose faces at a
low threshold in the scene photos; a linear SVM learns which proposals are
faces on the training and validation photos of the templates' own split, its threshold is
chosen on out-of-fold scores of the training and validation photos, and the
test photos give the figures (maskhog.detector_training.train_verifier).
Writes the record to train/detector_verifier.json. About 3 minutes on 2 cores.
"""

import argparse
import json
from pathlib import Path

from maskhog.training.verifier import train_verifier

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--templates", type=Path, default=HERE.parent / "maskhog" / "models")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models" / "face_verifier.npz")
    args = parser.parse_args()
    record = train_verifier([args.data / "scenes"], templates=args.templates, out=args.out)
    (HERE / "detector_verifier.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
