"""Reproduce the CNN face verifier shipped with maskhog's detector (maskhog/models/face_verifier.onnx).

    python train/detector_verifier_cnn.py [--data ../shared/data] [--out maskhog/models/face_verifier.onnx]

Needs PyTorch (``pip install '.[cnn]'``). The shipped templates
(maskhog/models/face_fhog48_*.svm) propose faces at a low threshold in the
scene photos, as they are and enlarged 1.5x; a small CNN learns which
proposals are faces on four fifths of the training and validation photos of
the templates' own split, and from the close-ups the pipeline's later looks
frame (faces/ photos of the detector's training groups, face-free squares of
the training scene photos); the other fifth picks its epoch and threshold (the
most faces at precision 0.90); the test photos give the figures
(maskhog.cnn_verifier_training.train_cnn_verifier). Writes the record to
train/detector_verifier_cnn.json. About 12 minutes on two cores; torch runs on two threads, and
a run repeats the shipped file exactly only in the environment that made it (torch's kernels
differ between builds).
"""

import argparse
import json
from pathlib import Path

from maskhog.training.cnn_verifier import train_cnn_verifier

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--templates", type=Path, default=HERE.parent / "maskhog" / "models")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models" / "face_verifier.onnx")
    args = parser.parse_args()
    record = train_cnn_verifier([args.data / "scenes"], templates=args.templates, out=args.out,
                                threads=2, faces=args.data / "faces")
    (HERE / "detector_verifier_cnn.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
