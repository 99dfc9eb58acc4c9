"""Reproduce the fHOG templates of maskhog's detector (maskhog/models/face_fhog48_*.svm).

    python train/detector_fhog.py [--data ../shared/data] [--out maskhog/models/] [--threads 2]

The packaged trainer (maskhog.training.templates.train_templates, which
``maskhog train-detector`` runs first) cuts chips around the faces of the
training photos of scenes/ (split by photo, seed 0: 20% test, 10% validation
held out) and pastes face photos of faces/ (30% of the groups held out) into
scene backgrounds for the second template. Writes the records to
train/detector_fhog.json. About 11 minutes and 6.5 GB on two cores. The face
verifiers learn from these templates' proposals: run train/detector_proposals.py
and train/detector_verifier_cnn.py after it.
"""

import argparse
import json
from pathlib import Path

from maskhog.training.templates import train_templates

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE.parent / "maskhog" / "models")
    parser.add_argument("--work", type=Path, default=Path("/tmp/maskhog-chips"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    records = train_templates([args.data / "scenes"], args.data / "faces", out_dir=args.out, work=args.work,
                              threads=args.threads)
    (HERE / "detector_fhog.json").write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
