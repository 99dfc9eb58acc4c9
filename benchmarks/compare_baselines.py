"""HOG+SVM, our CNN, the cascade and the AIZOO SSD peer on the same held-out data, in one run.

    python benchmarks/compare_baselines.py [--data ../shared/data] [--models ../shared/models]
    python benchmarks/compare_baselines.py --svm A.npz --cnn A.onnx --part validation

Held-out data: the test part of the shipped models' own split (faces/ and
scenes/ combined, groups kept whole, seed 0): neither maskhog model saw it.
``--part validation`` measures on the validation part instead (what models
are chosen on); ``--svm`` and ``--cnn`` name other models than the shipped ones.

* Crops: every held-out face (scene faces at their annotated box, or with
  ``--scene-boxes found`` at the box maskhog's detector frames them with,
  leaving out those it does not find). maskhog classifies its 64x64 colour crop; the
  SSD, a detector, gets the face's square with half its side as margin on
  each side, in colour, and its largest detection's label is its answer (no
  detection counts as wrong).
* Scenes: the held-out scene photos, resized to 640x480. Each annotated face
  (shorter side >= 24 px there) is right when a detection overlaps it
  (IoU >= 0.4) with the right label. maskhog runs its own face detector and
  then the classifier; the SSD does both at once.

Times are means on one thread (``cv2.setNumThreads(1)``): ms per face
(one face per call) and ms per 640x480 frame (everything, detection
included). Scene photos are scaled to fit 640x480 without distortion and
padded with black. The SSD is read from its Caffe files with OpenCV 4.x (maskhog
pins OpenCV < 5, which still has the Caffe importer); its ONNX copy gives
the same network. The SSD knows two classes: it cannot say
``incorrect_mask``, so those faces count as wrong for it.
"""

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from bench_live import AizooSSD

from maskhog.classify import Cascade, CnnClassifier, default_cnn_path
from maskhog.training.cnn import cascade_curve
from maskhog.crops import CropSpec, crop_faces
from maskhog.training.data import Dataset, group_split, load_datasets
from maskhog.boxes import iou as box_iou
from maskhog.detect import MaskHog
from maskhog.io import read_image
from maskhog.classify import MaskClassifier, default_model_path
from maskhog.pipeline import MaskDetector
from maskhog.training.faces import finder_for, found_boxes, whole_or_detected

HERE = Path(__file__).resolve().parent
FRAME = (640, 480)


PARTS = ("train", "validation", "test")


def held_out(data_root, seed=0, part="test"):
    """The test (or another) part of the shipped models' split: (path, box, label) of each face."""
    data = load_datasets([data_root / "faces", data_root / "scenes"])
    return data.subset(group_split(data, (0.7, 0.15, 0.15), seed=seed)[PARTS.index(part)])


def found_framing(test, finder):
    """The faces of ``test`` with each scene face's box replaced by the one ``finder`` frames it
    with (:func:`maskhog.training.faces.found_boxes`); scene faces it does not find are left out."""
    by_image = {}
    for s in test.samples:
        by_image.setdefault(s.path, []).append(s)
    kept = []
    for path, samples in by_image.items():
        boxed = [s for s in samples if s.box is not None]
        kept += [s for s in samples if s.box is None]
        if boxed:
            found = found_boxes([s.box for s in boxed], finder.find_faces(read_image(path)))
            kept += [replace(s, box=b) for s, b in zip(boxed, found) if b is not None]
    return Dataset(kept)


def face_box(sample, image, finder):
    """A class-folder face is cut as in training: where ``finder`` finds it, else (or without
    a finder) its image's centred square."""
    return sample.box if sample.box is not None else whole_or_detected(image, finder)[0]


def letterbox(image):
    """The photo scaled to fit 640x480 without distortion, on a black 640x480 frame."""
    h, w = image.shape[:2]
    f = min(FRAME[0] / w, FRAME[1] / h)
    small = cv2.resize(image, (round(w * f), round(h * f)),
                       interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    frame = np.zeros((FRAME[1], FRAME[0], 3), np.uint8)
    frame[:small.shape[0], :small.shape[1]] = small
    return frame, f


def ssd_crop_label(ssd, image, box):
    """The SSD's label for one face: its largest detection in the face's surroundings (the
    face's square with half its side around it, in colour, at the SSD's 260x260 input)."""
    region = crop_faces(image, [box], CropSpec(size=260, margin=0.5, color=True))[0]
    found = ssd(region, threshold=0.2)
    if not found:
        return None
    return max(found, key=lambda d: (d[0][2] - d[0][0]) * (d[0][3] - d[0][1]))[1]


def mean_ms(fn, items):
    """Mean milliseconds per call (the mean, not the median: the cascade's cost is
    mostly cheap calls and some dear ones)."""
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) * 1000 / len(items)


def label_metrics(y_true, y_pred, classes):
    """Recall per class, macro F1 and accuracy of hard labels (``None``: no answer, wrong)."""
    from sklearn.metrics import precision_recall_fscore_support

    y_true = np.asarray(y_true)
    y_pred = np.array([p if p is not None else "none" for p in y_pred])
    _, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=list(classes),
                                                       zero_division=0)
    present = [j for j, c in enumerate(classes) if (y_true == c).any()]
    return {"n": len(y_true), "accuracy": float(np.mean(y_true == y_pred)),
            "macro_f1": float(np.mean(f1[present])),
            "recall": {c: float(recall[j]) for j, c in enumerate(classes)}}


def crops_table(test, svm, cnn, cascade, ssd):
    images, boxes, labels = {}, [], []
    finder = finder_for(svm)
    for s in test.samples:
        if s.path not in images:
            images[s.path] = read_image(s.path)
        boxes.append(face_box(s, images[s.path], finder))
        labels.append(s.label)
    # Each face cut once per crop rule (the shipped SVM and CNN share one).
    crops = {spec: np.concatenate([crop_faces(images[s.path], [b], spec)
                                   for s, b in zip(test.samples, boxes)])
             for spec in {svm.crop, cnn.crop}}
    labels = np.array(labels)
    boxed = np.array([s.box is not None for s in test.samples])
    rows, proba = {}, {}
    for name, model in (("HOG+SVM", svm), ("CNN", cnn), ("cascade", cascade)):
        mine = [crops[spec] for spec in model.crop_specs]
        proba[name] = model.classify_crops(*mine)
        predicted = np.asarray(svm.classes)[proba[name].argmax(axis=1)]
        one_by_one = [[c[i:i + 1] for c in mine] for i in range(0, len(labels), 4)]
        rows[name] = {"metrics": label_metrics(labels, predicted, svm.classes),
                      "ms_face": mean_ms(lambda one: model.classify_crops(*one), one_by_one),
                      # The faces/ photos and the scene faces apart: two sources, two framings.
                      "by_source": {source: label_metrics(labels[own], predicted[own], svm.classes)
                                    for source, own in (("faces", ~boxed), ("scenes", boxed))}}
    rows["cascade"]["cnn_fraction"] = cascade.cnn_fraction
    # What other thresholds (--cascade-threshold) would give on these faces.
    rows["cascade"]["curve"] = [
        {"threshold": round(t, 4), "cnn_fraction": round(f, 4), "accuracy": round(a, 4)}
        for t, f, a in cascade_curve(proba["HOG+SVM"], proba["CNN"], labels, svm.classes,
                                     sorted({cascade.threshold, 0.8, 0.9, 0.95, 0.98}))]
    ssd_labels = [ssd_crop_label(ssd, images[s.path], b) for s, b in zip(test.samples, boxes)]
    rows["AIZOO SSD"] = {"metrics": label_metrics(labels, ssd_labels, svm.classes),
                         "ms_face": mean_ms(lambda b: ssd_crop_label(ssd, *b),
                                              [(images[s.path], b) for s, b in
                                               list(zip(test.samples, boxes))[::8]])}
    return rows


def scenes_table(test, svm, cnn, cascade, ssd):
    frames = {}
    for s in test.samples:
        if s.box is None:
            continue
        if s.path not in frames:
            frames[s.path] = (*letterbox(read_image(s.path)), [])
        _, f, faces = frames[s.path]
        box = tuple(v * f for v in s.box)
        if min(box[2] - box[0], box[3] - box[1]) >= 24:
            faces.append((box, s.label))
    detector = MaskHog()
    runners = {name: (lambda img, d=MaskDetector(detector, model):
                      [(f.box, f.label) for f in d.detect(img)])
               for name, model in (("HOG+SVM", svm), ("CNN", cnn), ("cascade", cascade))}
    runners["AIZOO SSD"] = lambda img: ssd(img)
    rows = {}
    for name, run in runners.items():
        y_true, y_pred = [], []
        start = time.perf_counter()
        outputs = [run(image) for image, _, _ in frames.values()]
        ms = (time.perf_counter() - start) * 1000 / len(frames)
        for (_, _, faces), found in zip(frames.values(), outputs):
            for box, label in faces:
                best = max(found, key=lambda d: box_iou(box, d[0]), default=None)
                hit = best is not None and box_iou(box, best[0]) >= 0.4
                y_true.append(label)
                y_pred.append(best[1] if hit else None)
        rows[name] = {"metrics": label_metrics(y_true, y_pred, svm.classes),
                      "ms_frame": ms,
                      "found": {c: float(np.mean([p is not None for p, t in zip(y_pred, y_true) if t == c]))
                                for c in svm.classes}}
    rows["cascade"]["cnn_fraction"] = cascade.cnn_fraction
    return rows, len(frames)


def print_table(title, rows, classes, time_key, sizes):
    short = {"with_mask": "mask", "without_mask": "no mask", "incorrect_mask": "incorrect"}
    head = ["model"] + [f"recall {short[c]}" for c in classes] + ["macro F1", "accuracy",
                                                                   time_key.replace("_", " per "), "size"]
    print(f"\n{title}\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, r in rows.items():
        m = r["metrics"]
        cells = [name] + [f"{m['recall'][c]:.3f}" for c in classes]
        cells += [f"{m['macro_f1']:.3f}", f"{m['accuracy']:.3f}", f"{r[time_key]:.2f}", sizes[name]]
        if "cnn_fraction" in r:
            cells[0] += f" (CNN on {r['cnn_fraction']:.0%})"
        print("| " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=HERE.parent.parent / "shared" / "models")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--svm", type=Path, default=default_model_path(), help="The SVM (default: shipped).")
    parser.add_argument("--cnn", type=Path, default=default_cnn_path(), help="The CNN stage (default: shipped).")
    parser.add_argument("--part", choices=PARTS, default="test", help="Which part of the split to measure on.")
    parser.add_argument("--scene-boxes", choices=("annotated", "found"), default="annotated",
                        help="Where the crops table cuts scene faces.")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    svm = MaskClassifier.load(args.svm)
    cnn = CnnClassifier(args.cnn, backend="cpu")
    ssd_folder = args.models / "aizoo-ssd"
    ssd = AizooSSD(ssd_folder)
    test = held_out(args.data, part=args.part)
    faces = found_framing(test, MaskDetector(MaskHog(), svm)) if args.scene_boxes == "found" else test
    kb = lambda *paths: f"{sum(p.stat().st_size for p in paths) / 1024:,.0f} KB"  # noqa: E731
    models = default_model_path().parent
    svm_files = [args.svm]
    detector_files = (sorted(models.glob("face_fhog48_*.svm")) + sorted(models.glob("face_verifier.*"))
                      + sorted(models.glob("face_proposals.*")) + sorted(models.glob("face_yunet_n.onnx")))
    sizes_crops = {"HOG+SVM": kb(*svm_files), "CNN": kb(args.cnn),
                   "cascade": kb(*svm_files, args.cnn),
                   "AIZOO SSD": kb(ssd_folder / "face_mask_detection.caffemodel")}
    sizes_scenes = {k: v if k == "AIZOO SSD" else kb(*svm_files, *detector_files,
                                                     *([args.cnn] if k != "HOG+SVM" else []))
                    for k, v in sizes_crops.items()}
    print(f"maskhog {sys.modules['maskhog'].__version__}, OpenCV {cv2.__version__}, one thread; "
          f"SSD from its Caffe files; {args.svm.name} and {args.cnn.name}, cascade threshold "
          f"{cnn.cascade_threshold}; the {args.part} part")
    crops = crops_table(faces, svm, cnn, Cascade(svm, cnn), ssd)
    print_table(f"Held-out faces ({len(faces)} crops, scene faces at the {args.scene_boxes} box; "
                f"ms per face, one face per call)", crops,
                svm.classes, "ms_face", sizes_crops)
    for name in ("HOG+SVM", "CNN", "cascade"):
        print(f"  {name} by source: " + "; ".join(
            f"{source} {m['n']} faces, accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}"
            for source, m in crops[name]["by_source"].items()))
    print("  cascade by threshold: " + "; ".join(
        "{threshold}: {cnn_fraction:.0%} to the CNN, accuracy {accuracy:.3f}".format(**r)
        for r in crops["cascade"]["curve"]))
    scenes, n_frames = scenes_table(test, svm, cnn, Cascade(svm, cnn), ssd)
    print_table(f"Held-out scenes ({n_frames} photos at 640x480, faces >= 24 px; a missed face is "
                f"wrong; sizes include maskhog's face detector)", scenes, svm.classes, "ms_frame",
                sizes_scenes)
    for name, r in scenes.items():
        print(f"  {name}: share of faces found (IoU >= 0.4), by class: "
              + ", ".join(f"{c} {v:.2f}" for c, v in r["found"].items()))
    if args.json:
        args.json.write_text(json.dumps({"crops": crops, "scenes": scenes}, indent=1) + "\n")


if __name__ == "__main__":
    main()
