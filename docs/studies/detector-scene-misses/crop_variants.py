"""The CNN face verifier trained with other crops: the recipe's settings with ``crop_size``
and ``crop_margin`` changed (and optionally more settings as JSON); writes the verifier and
its training record (held-out and test figures) under ``--work``.

    cd /work/main && PYTHONPATH=. .venv/bin/python docs/studies/detector-scene-misses/crop_variants.py \
        m64 64 0.2 [--work /tmp/crops] ['{"widths": [12, 24, 48, 96]}']

Runs of this study used one torch thread each, two at a time on the 2-core machine, except the
channels-last timing run (``--threads 2``, alone).
"""
import argparse
import json
import os
from pathlib import Path

from maskhog.cnn_verifier_training import CNN_VERIFIER, train_cnn_verifier

parser = argparse.ArgumentParser()
parser.add_argument("name")
parser.add_argument("size", type=int)
parser.add_argument("margin", type=float)
parser.add_argument("extra", nargs="?", default="{}")
parser.add_argument("--work", type=Path, default=Path("/tmp/crop_variants"))
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()
out = args.work / args.name
out.mkdir(parents=True, exist_ok=True)
settings = {**CNN_VERIFIER, "crop_size": args.size, "crop_margin": args.margin, **json.loads(args.extra)}
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
record = train_cnn_verifier([data / "scenes"], out=out / "face_verifier.onnx", threads=args.threads, settings=settings,
                            faces=data / "faces")
(out / "record.json").write_text(json.dumps(record, indent=1))
