"""Reproduce maskhog's shipped CNN second stage, maskhog/models/cnn.onnx.

    python train/cnn_model.py                 # data in ../shared/data
    python train/cnn_model.py --data DIR      # DIR/faces and DIR/scenes

Needs the [cnn] extra (PyTorch). Trains on exactly the data, split and crop
rule of the shipped SVM (train/default_model.py: faces/ and the face boxes of
scenes/, seed 0), picks the cascade threshold against that SVM on the
validation faces, and writes the ONNX file plus train/cnn_model.json: the
training record with held-out test figures. Never trained on
incorrect_synthetic/ (its licence is non-commercial). About 15 minutes on
two CPU cores.
"""

import argparse
import hashlib
import json
from pathlib import Path

from default_model import SETTINGS
from maskhog.training.augment import Augment
from maskhog.training.cnn import train_cnn
from maskhog.classify import MaskClassifier

HERE = Path(__file__).resolve().parent
CNN_SETTINGS = {
    "augment": Augment(copies=2),   # as the SVM: the same training crops
    "epochs": 30,
    "threads": 2,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--svm", type=Path, default=HERE.parent / "maskhog" / "models" / "default.npz")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models" / "cnn.onnx")
    parser.add_argument("--record", type=Path, default=HERE / "cnn_model.json",
                        help="Where the training record goes.")
    parser.add_argument("--threads", type=int, default=CNN_SETTINGS["threads"],
                        help="PyTorch's threads (on a shared machine, 1).")
    args = parser.parse_args()
    roots = [args.data / "faces", args.data / "scenes"]
    svm = MaskClassifier.load(args.svm)
    _, report = train_cnn(roots, out=args.out, svm=svm, seed=SETTINGS["seed"],
                          **{**CNN_SETTINGS, "threads": args.threads})
    report["threads"] = args.threads
    report["onnx"] = {"bytes": args.out.stat().st_size,
                      "sha256": hashlib.sha256(args.out.read_bytes()).hexdigest()}
    args.record.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"test": {k: report["test_metrics"][k] for k in ("accuracy", "balanced_accuracy",
                                                                      "macro_f1")},
                      "cascade": report["cascade"]}, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
