"""Measure the CNN second stage and the cascade on data from another source.

    python train/measure_cnn.py [--data ../shared/data] [--epochs 30]

Trains the SVM (as `maskhog train`) and then the CNN (as `maskhog train-cnn`,
the cascade threshold chosen on the faces' validation split) on faces/ only,
and tests all three (SVM, CNN, cascade) on the with_mask / without_mask face
boxes of scenes/ whose shorter side is at least 24 px: the cross-source
figure of train/measure.py. Also records the cascade's trade-off on those
faces (its accuracy and share of CNN calls at a range of thresholds), to show
what the threshold chosen on faces/ validation leaves on the table, and how
steady that choice is: ``--draws N`` more draws of the varied validation
copies the threshold is chosen on, each chosen again and tested on the same
scene faces. Writes train/measurements_cnn.json.
"""

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from default_model import SETTINGS, recipe_finder
from maskhog.classify import Cascade
from maskhog.training.cnn import VARIED_COPIES, cascade_curve, choose_threshold, train_cnn
from maskhog.training.data import group_split, load_dataset
from maskhog.training.metrics import classification_metrics
from maskhog.training.faces import face_crops
from maskhog.training.linear import train

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gray", action="store_true", help="Train the CNN on gray crops, as the SVM.")
    parser.add_argument("--draws", type=int, default=4, help="More draws of the varied validation copies.")
    parser.add_argument("--draw-copies", type=int, default=VARIED_COPIES,
                        help="Varied copies per validation face in those draws (default: the recipe's).")
    parser.add_argument("--out", type=Path, default=HERE / "measurements_cnn.json")
    args = parser.parse_args()
    start = time.time()
    faces = [args.data / "faces"]
    svm, _ = train(faces, spec=SETTINGS["crop"], features=SETTINGS["features"],
                   augment=SETTINGS["augment"], seed=SETTINGS["seed"],
                   detector=recipe_finder())
    with tempfile.TemporaryDirectory() as tmp:
        cnn, report = train_cnn(faces, out=Path(tmp) / "cnn.onnx", svm=svm, augment=SETTINGS["augment"],
                                seed=SETTINGS["seed"], epochs=args.epochs, threads=args.threads,
                                color=not args.gray)
        size = (Path(tmp) / "cnn.onnx").stat().st_size
    scenes = load_dataset(args.data / "scenes")
    cut = face_crops(scenes, svm.crop, also=(cnn.crop,))   # each stage's crops, one reading
    boxes = np.array([box for _, box in cut.sources])
    short = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    keep = (short >= 24) & np.isin(cut.labels, svm.classes)
    y = cut.labels[keep]
    cascade = Cascade(svm, cnn)
    out = {"trained_on": "faces", "tested_on": "scenes boxes >= 24 px, with_mask / without_mask",
           "cnn_crop": cnn.crop.to_dict(), "onnx_bytes": size, "cnn_validation": report["fit"],
           "cascade_choice": report["cascade"]}
    proba = {}
    for name, model in (("svm", svm), ("cnn", cnn), ("cascade", cascade)):
        crops = [{svm.crop: cut.crops, cnn.crop: cut.also[0]}[spec][keep] for spec in model.crop_specs]
        proba[name] = model.classify_crops(*crops)
        m = classification_metrics(y, proba[name], svm.classes)
        out[name] = {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1", "per_class")}
        print(f"{name}: accuracy {m['accuracy']:.4f}, balanced {m['balanced_accuracy']:.4f}", flush=True)
    out["cascade"]["cnn_fraction"] = round(cascade.cnn_fraction, 4)
    print(f"cascade sent {cascade.cnn_fraction:.1%} of faces to the CNN")
    thresholds = [cascade.threshold, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]
    out["cascade_curve"] = [{"threshold": round(t, 6), "cnn_fraction": round(f, 4), "accuracy": round(a, 4)}
                            for t, f, a in cascade_curve(proba["svm"], proba["cnn"], y, svm.classes,
                                                         sorted(thresholds))]
    for row in out["cascade_curve"]:
        print("  threshold {threshold}: {cnn_fraction:.1%} to the CNN, accuracy {accuracy:.4f}".format(**row))
    out["cascade_draws"] = other_draws(args.data / "faces", svm, cnn, proba, y, args.draws, args.draw_copies)
    out["seconds"] = round(time.time() - start, 1)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


def other_draws(faces, svm, cnn, proba, y, n, copies=VARIED_COPIES):
    """The threshold chosen again on other draws of ``copies`` varied copies of each validation
    face (the recipe's draw is seed + 1), each tested on the scene faces whose probabilities
    are in ``proba``."""
    seed = SETTINGS["seed"]
    data = load_dataset(faces)
    validation = data.subset(group_split(data, (0.7, 0.15, 0.15), seed=seed)[1])
    varied = replace(SETTINGS["augment"], copies=copies, balance=False)
    finder, rows = recipe_finder(), []
    for draw in range(seed + 2, seed + 2 + n):
        hard = face_crops(validation, cnn.crop, detector=finder, augment=varied, seed=draw,
                          also=(svm.crop,))
        choice = choose_threshold(svm.classify_crops(hard.also[0]), cnn.classify_crops(hard.crops),
                                  hard.labels, svm.classes)
        ((_, fraction, accuracy),) = cascade_curve(proba["svm"], proba["cnn"], y, svm.classes,
                                                   [choice["threshold"]])
        rows.append({"seed": draw, "threshold": choice["threshold"],
                     "validation_cnn_fraction": choice["validation"]["cnn_fraction"],
                     "cnn_fraction": round(fraction, 4), "accuracy": round(accuracy, 4)})
        print("  draw {seed}: threshold {threshold}, {cnn_fraction:.1%} of scene faces to the CNN, "
              "accuracy {accuracy:.4f}".format(**rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    main()
