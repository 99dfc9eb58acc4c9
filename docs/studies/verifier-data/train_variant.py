"""Train the CNN face verifier with the shipped recipe's settings plus a few more.

    cd /work/main && MASKHOG_DATA=/work/shared/data PYTHONPATH=. .venv/bin/python \
        docs/studies/verifier-data/train_variant.py '{"pasted": 2000}' WORK/fv_pasted.onnx
    ... train_variant.py '{"unboxed_after": 8, "unboxed_odds": 1.0}' WORK/fv_unboxed.onnx

Writes the ONNX file and its record (``.json`` beside it). About 15 minutes on two cores.
"""
import json
import os
import sys
from pathlib import Path

from maskhog.cnn_verifier_training import CNN_VERIFIER, train_cnn_verifier

extra, out = json.loads(sys.argv[1]), Path(sys.argv[2])
data = Path(os.environ.get("MASKHOG_DATA", "../shared/data"))
record = train_cnn_verifier([data / "scenes"], out=out, threads=2, faces=data / "faces",
                            settings=dict(CNN_VERIFIER, **extra))
out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
