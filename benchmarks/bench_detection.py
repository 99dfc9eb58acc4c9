"""Face detection: maskhog's detector, dlib's stock one, OpenCV's Haar cascade and the AIZOO SSD, in one run.

    python benchmarks/bench_detection.py [--data ../shared/data] [--faces 400]

Held out from maskhog's detector training (``maskhog.training.scenes``: the split every
detector trainer uses):

* scenes: the test images of its image-level split (seed 0, 20% of the 683
  photos). An annotated face counts when its shorter side is at least 24 px;
  smaller faces are "don't care" (a detection on one is neither right nor
  wrong). Detections match faces greedily, best score first, at IoU >= 0.4.
  Recall per class and precision, each detector at its shipped threshold.
* faces: images of the faces/ groups the detector never saw (its 30% held
  out): the share of with_mask and without_mask photos in which a face is
  found: by the detector alone; through ``MaskDetector.find_faces``, which
  looks once more, at the image shrunk to at most 400 px inside a gray
  border, when it finds nothing (what ``maskhog predict`` and ``detect`` do); and by
  the detector alone on every photo padded by a quarter of its side (most
  are tight crops, with no room around the face for a detection window);
  ``--faces N`` looks at about N of them, 0 skips.
* time: mean ms per 640x480 frame (the test photos scaled to fit and padded),
  one thread; and, for maskhog's default detector, through ``MaskDetector``
  with ``--min-face`` 0, 24 (frames searched enlarged) and 80 (shrunk), with
  the recall and precision each gives on the held-out scene photos.

Every detector is given the colour photos and frames (those that search gray
images convert them). maskhog's detector runs its templates at a low
threshold and keeps what its face verifier accepts (``maskhog.verify``): the
CNN one, or the linear one ("linear verifier"); "templates alone" is it
without a verifier, as it works on gray frames.
The SSD is read from its Caffe files with OpenCV 4.x.

The scene annotations leave out many faces (in crowds, behind others, blurred): "precision,
judged" also counts as right the detections on the faces a person judged by eye among a loose
rule's false detections on the test photos (``train/unannotated_faces.json``, made by
``train/unannotated_faces.py``; boxes judged "unsure" or not judged stay false).
``--yunet-threshold T`` adds the default detector with YuNet's rule from T, for comparison.
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import cv2

from bench_live import AizooSSD
from compare_baselines import letterbox

from maskhog.detect import Face, make_detector
from maskhog.training.data import load_datasets
from maskhog.training.metrics import match_boxes
from maskhog.detect.convention import IDENTITY
from maskhog.detect.yunet import YuNet
from maskhog.training.scenes import split_scenes, training_face_photos
from maskhog.io import read_image
from maskhog.pipeline import MaskDetector

HERE = Path(__file__).resolve().parent
CLASSES = ("with_mask", "without_mask", "incorrect_mask")
JUDGED = HERE.parent / "train" / "unannotated_faces.json"


def judged_faces(path=JUDGED, part="test"):
    """The faces judged by eye that the annotations of ``part`` leave out, by image name, as
    ``("face", x1, y1, x2, y2)``: counted right when found, never as missed."""
    out = {}
    if Path(path).exists():
        for entry in json.loads(Path(path).read_text())["parts"].get(part, {}).get("faces", []):
            out.setdefault(entry["photo"], []).append(("face", *entry["box"]))
    return out


class SSDFaces:
    """The SSD peer as a face detector (its mask label is ignored here)."""

    name = "AIZOO SSD"

    def __init__(self, folder):
        self.ssd = AizooSSD(folder)

    def detect(self, image):
        return [Face(tuple(int(v) for v in box), 1.0) for box, _ in self.ssd(image)]


def splits(data_root):
    """The detector recipe's held-out scene photos (paths), their boxes by file name, and the
    held-out faces/ photos as ``(label, path)``, in manifest order."""
    photos, (_, _, test) = split_scenes([data_root / "scenes"])
    boxes = {Path(p).name: [(label, *box) for label, box in photos[p]] for p in test}
    learnt = {path for path, _ in training_face_photos(data_root / "faces")}
    held = [(s.label, s.path) for s in load_datasets([data_root / "faces"]).samples if s.path not in learnt]
    return test, boxes, held


def padded(image, fraction=0.25):
    """The photo with a gray border of ``fraction`` of its longer side all round."""
    p = int(round(fraction * max(image.shape[:2])))
    return cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_CONSTANT, value=(128, 128, 128))


#: Face size bands (shorter side, px) that recall is also given for.
BANDS = ((24, 48), (48, 96), (96, None))


def band_name(lo, hi):
    return f"{lo}-{hi}" if hi else f"{lo}+"


def scene_figures(find, images, boxes, min_side=24, tolerant=False, found=None):
    """Faces counted per class, recall per class (nan where none) and precision of ``find``
    (image -> faces) over the scene photos ``images``, against their ``boxes``; and recall per
    size band (:data:`BANDS`). ``tolerant``: the convention-tolerant match
    (``maskhog.training.metrics.same_face``). ``found``: the faces already found, by image name."""
    n, hit, false = Counter(), Counter(), 0
    band_n, band_hit = Counter(), Counter()
    for image_name, image in images.items():
        faces = found[image_name] if found is not None else find(image)
        used, counted, c = match_boxes(faces, boxes[image_name], min_side, tolerant=tolerant)
        false += c
        for (label, x1, y1, x2, y2), u, k in zip(boxes[image_name], used, counted):
            n[label] += k
            hit[label] += k and u
            side = min(x2 - x1, y2 - y1)
            for lo, hi in BANDS:
                if k and side >= lo and (hi is None or side < hi):
                    band_n[lo] += 1
                    band_hit[lo] += u
    total = sum(hit.values())
    recall = {c: hit[c] / n[c] if n[c] else float("nan") for c in CLASSES}
    bands = {band_name(lo, hi): band_hit[lo] / band_n[lo] if band_n[lo] else float("nan") for lo, hi in BANDS}
    return n, recall, total / max(1, total + false), bands


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=HERE.parent.parent / "shared" / "models")
    parser.add_argument("--faces", type=int, default=400, help="faces/ photos to look at (0: skip)")
    parser.add_argument("--templates", type=Path, action="append", default=[],
                        help="Also measure maskhog with templates from this folder (maskhog train-detector).")
    parser.add_argument("--only-maskhog", action="store_true", help="Skip the other detectors.")
    parser.add_argument("--no-variants", action="store_true",
                        help="Only the default, --detector hog, YuNet alone, dlib, Haar and the SSD.")
    parser.add_argument("--yunet-threshold", type=float, action="append", default=[],
                        help="Also measure the default detector with YuNet's rule from this threshold.")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    test, boxes, face_rows = splits(args.data)
    detectors = {"maskhog": make_detector("maskhog"),
                 "maskhog --detector hog (templates + proposal network)": make_detector("hog"),
                 "YuNet alone (score 0.5, maskhog's box convention)": YuNet(),
                 "YuNet alone (score 0.5, its own boxes)": YuNet(rule=IDENTITY),
                 "maskhog --detector hog, linear verifier": make_detector("hog", verifier="linear"),
                 "maskhog --detector hog, templates alone": make_detector("hog", verifier=False),
                 "maskhog --detector hog --pose": make_detector("hog", pose=True),
                 "maskhog --detector hog, upsample 1": make_detector("hog", upsample=1),
                 "dlib stock": make_detector("dlib", upsample=0),
                 "dlib stock, upsample 1": make_detector("dlib", upsample=1),
                 "OpenCV Haar": make_detector("haar"), "AIZOO SSD": SSDFaces(args.models / "aizoo-ssd")}
    if args.only_maskhog:
        detectors = {"maskhog": detectors["maskhog"]}
    elif args.no_variants:
        detectors = {k: v for k, v in detectors.items() if "," not in k or k.startswith("YuNet")}
    for folder in args.templates:
        detectors[f"maskhog, {folder}"] = make_detector("maskhog", templates=folder)
    for t in args.yunet_threshold:
        detectors[f"maskhog, YuNet rule from {t:g}"] = det = make_detector("maskhog")
        det.yunet_threshold = t
    judged = judged_faces()
    with_judged = {name: faces + judged.get(name, []) for name, faces in boxes.items()}
    images = {Path(path).name: read_image(path) for path in test}
    frames = [letterbox(image)[0] for image in images.values()]
    rows = face_rows[:: max(1, len(face_rows) // args.faces)] if args.faces else []
    photos = [(label, read_image(path)) for label, path in rows]
    print(f"{len(test)} held-out scene photos, {len(photos)} held-out faces/ photos, OpenCV {cv2.__version__}, "
          "one thread\n")
    bands = " / ".join(band_name(*b) for b in BANDS)
    print(f"Scene recall per class and precision at IoU >= 0.4, then with the convention-tolerant match (one "
          f"box >= 0.8 inside the other, sides within 2x); recall per face size band ({bands} px).\n")
    print(f"Precision, judged: the {sum(map(len, judged.values()))} faces the annotations leave out, judged by eye "
          f"({JUDGED.name}), count as right.\n")
    print("| detector | recall mask | recall no mask | recall incorrect | precision | precision, judged | recall by size | "
          "tolerant: mask / no mask / incorrect, precision | tolerant by size | "
          "faces/ mask found: alone / pipeline / padded | faces/ no mask found: alone / pipeline / padded "
          "| ms per 640x480 frame |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, det in detectors.items():
        found = {image_name: det.detect(image) for image_name, image in images.items()}
        n, recall, precision, by_size = scene_figures(det.detect, images, boxes, found=found)
        _, loose, loose_precision, loose_size = scene_figures(det.detect, images, boxes, tolerant=True, found=found)
        _, _, judged_precision, _ = scene_figures(det.detect, images, with_judged, found=found)
        seen = Counter(label for label, photo in photos if det.detect(photo))
        pipeline = MaskDetector(det)
        seen_pipeline = Counter(label for label, photo in photos if pipeline.find_faces(photo))
        seen_padded = Counter(label for label, photo in photos if det.detect(padded(photo)))
        total = Counter(label for label, _ in photos)
        start = time.perf_counter()
        for f in frames:
            det.detect(f)
        ms = (time.perf_counter() - start) * 1000 / len(frames)
        share = {c: " / ".join(f"{found_in[c] / total[c]:.2f}" for found_in in (seen, seen_pipeline, seen_padded))
                 if total[c] else "-" for c in ("with_mask", "without_mask")}
        sizes = " / ".join(f"{v:.2f}" for v in by_size.values())
        loose_sizes = " / ".join(f"{v:.2f}" for v in loose_size.values())
        loose = " / ".join(f"{loose[c]:.2f}" for c in CLASSES)
        print(f"| {name} | {recall['with_mask']:.2f} | {recall['without_mask']:.2f} | "
              f"{recall['incorrect_mask']:.2f} | {precision:.2f} | {judged_precision:.2f} | {sizes} | "
              f"{loose}, {loose_precision:.2f} | "
              f"{loose_sizes} | {share['with_mask']} | {share['without_mask']} | {ms:.1f} |", flush=True)
    print(f"\nfaces counted (>= 24 px): {dict(n)}")
    # What --min-face gives and costs: the photos searched enlarged (24 px) or shrunk (80 px).
    # Faces under min_face are neither right nor wrong here (80: only faces of 80 px count).
    finder = detectors["maskhog"]
    for min_face in (0, 24, 80):
        pipeline = MaskDetector(finder, min_face=min_face, second_look=False)
        n, recall, precision, _ = scene_figures(pipeline.find_faces, images, boxes, max(24, min_face))
        start = time.perf_counter()
        for f in frames:
            pipeline.find_faces(f)
        recall = " / ".join(f"{recall[c]:.2f}" if n[c] else "-" for c in CLASSES)
        print(f"maskhog --min-face {min_face}: {(time.perf_counter() - start) * 1000 / len(frames):.1f} ms "
              f"per 640x480 frame; held-out scenes, faces of {max(24, min_face)} px and more: recall {recall}, "
              f"precision {precision:.2f}")


if __name__ == "__main__":
    main()
