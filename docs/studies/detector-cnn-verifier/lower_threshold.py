"""The CNN verifier trained on proposals from a lower template threshold (2026-11-27).

    python docs/studies/detector-cnn-verifier/lower_threshold.py -1.4 [--background-keep 0.4] [--out DIR]

Runs the shipped recipe (maskhog.cnn_verifier_training.train_cnn_verifier: same split,
scales, network, epochs and threshold rule) with ``candidate_threshold`` changed (and, with
``--background-keep``, that seeded share of the background proposals only), on two torch
threads, and writes the ONNX file and its record to DIR (default /tmp). Not shipped.
"""
import argparse
import json
from pathlib import Path

from maskhog.cnn_verifier_training import CNN_VERIFIER, train_cnn_verifier

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("candidate_threshold", type=float)
parser.add_argument("--data", type=Path, default=HERE.parents[3] / "shared" / "data")
parser.add_argument("--background-keep", type=float, default=1.0)
parser.add_argument("--out", type=Path, default=Path("/tmp"))
args = parser.parse_args()
low, keep = args.candidate_threshold, args.background_keep
name = f"verifier_{low}" + (f"_keep{keep}" if keep < 1 else "")
record = train_cnn_verifier([args.data / "scenes"], out=args.out / f"{name}.onnx",
                            settings={**CNN_VERIFIER, "candidate_threshold": low, "background_keep": keep},
                            threads=2)
(args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
print(json.dumps({k: record[k] for k in ("threshold", "best_epoch", "held_out_figures", "test")}, indent=1))
