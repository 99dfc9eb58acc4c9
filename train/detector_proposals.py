"""Reproduce the proposal network shipped with maskhog's detector (maskhog/models/face_proposals.onnx).

    python train/detector_proposals.py [--data ../shared/data] [--out maskhog/models/]

Needs PyTorch (``pip install '.[cnn]'``). A 11,373-weight P-Net learns 16-px colour windows
cut around the boxed faces (and from the backgrounds) of the scene photos the CNN face
verifier learns from, then again with its own false proposals as more background
(maskhog.proposal_training). Writes the record to train/detector_proposals.json. About 1.5
minutes on two cores. Run it before train/detector_verifier_cnn.py: the verifier learns
from its proposals.
"""

import argparse
import json
import logging
from pathlib import Path

import torch

from maskhog.training.proposal_net import train_proposals, training_photos

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    record = train_proposals(training_photos([args.data / "scenes"]), args.out)
    (HERE / "detector_proposals.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
