"""The CNN stage's recipe with another seed for the network only: how much does a draw move it?

    python docs/studies/cnn-draws/cnn_draw.py SEED [--data ../shared/data] [--out DIR]

Runs train/cnn_model.py's recipe (its settings, the shipped SVM, split seed 0, the same crops)
but seeds the network's weights and batches with SEED, then prints its held-out test figures
and what it and its cascade score on the 481 held-out scene faces that
tests/test_shared_data.py checks. Not part of the recipe. About 20 minutes on two cores.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "train"))

import maskhog.cnn_training as cnn_training  # noqa: E402
from cnn_model import CNN_SETTINGS  # noqa: E402
from default_model import SETTINGS  # noqa: E402
from maskhog.cnn import Cascade, CnnClassifier  # noqa: E402
from maskhog.data import group_split, load_datasets  # noqa: E402
from maskhog.evaluation import classification_metrics  # noqa: E402
from maskhog.model import MaskClassifier, default_model_path  # noqa: E402
from maskhog.training import face_crops  # noqa: E402


def brief(m):
    return {"accuracy": round(m["accuracy"], 3), "balanced_accuracy": round(m["balanced_accuracy"], 3),
            "recall": {c: round(v["recall"], 3) for c, v in m["per_class"].items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    fit = cnn_training.fit_network   # train_cnn calls it by this module name: seed the network only
    cnn_training.fit_network = lambda *a, **k: fit(*a, **{**k, "seed": args.seed})
    roots = [args.data / "faces", args.data / "scenes"]
    svm = MaskClassifier.load(default_model_path())
    out = args.out / f"cnn_seed{args.seed}.onnx"
    _, report = cnn_training.train_cnn(roots, out=out, svm=svm, seed=SETTINGS["seed"], log_fn=lambda *a: None,
                                       **CNN_SETTINGS)
    # The held-out scene faces of tests/test_shared_data.py (boxes of scenes/ in the test split).
    data = load_datasets(roots)
    _, _, test = group_split(data, (0.7, 0.15, 0.15), seed=SETTINGS["seed"])
    scenes = data.subset([i for i in test if data.samples[i].box is not None])
    cnn = CnnClassifier(out)
    faces = face_crops(scenes, svm.crop, also=(cnn.crop,))
    cascade = Cascade(svm, cnn)
    print(json.dumps({
        "seed": args.seed, "test": brief(report["test_metrics"]), "cascade_test": report["cascade"]["test"],
        "scene_faces": {"n": len(faces.labels),
                        "cnn": brief(classification_metrics(faces.labels, cnn.classify_crops(faces.also[0]),
                                                            svm.classes)),
                        "cascade": brief(classification_metrics(
                            faces.labels, cascade.classify_crops(faces.crops, faces.also[0]), svm.classes))},
    }, indent=1))


if __name__ == "__main__":
    main()
