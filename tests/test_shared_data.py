"""On the project's real data sets (skipped where ../shared/data is absent)."""

import numpy as np
import pytest

from maskhog.training.data import group_split, load_dataset, load_datasets
from maskhog.training.metrics import classification_metrics
from maskhog.classify import MaskClassifier, default_model_path
from maskhog.training.faces import face_crops

def test_scenes_annotations_are_read_and_bad_boxes_named(shared):
    data = load_dataset(shared / "scenes")
    counts = data.counts()
    assert counts["incorrect_mask"] == 100 and counts["without_mask"] >= 550
    assert counts["with_mask"] >= 2700
    # Four boxes of one photo start beyond its right edge.
    assert sum("maksssksksss451.xml" in s and "outside" in s for s in data.skipped) == 4


def test_faces_manifest_groups_near_duplicates(shared):
    data = load_dataset(shared / "faces")
    assert len(data) == 3439 and len(set(data.groups)) < len(data)


@pytest.fixture(scope="module")
def held_out_scene_faces(shared):
    """The scene faces of the shipped recipe's test split (train/default_model.py, seed 0)."""
    root = shared
    data = load_datasets([root / "faces", root / "scenes"])
    _, _, test = group_split(data, (0.7, 0.15, 0.15), seed=0)
    scenes = data.subset([i for i in test if data.samples[i].box is not None])
    from maskhog.classify import CnnClassifier, default_cnn_path

    model = MaskClassifier.load(default_model_path())
    # The same faces cut the CNN's way too (colour), from the same reading of each photo.
    return model, face_crops(scenes, model.crop, also=(CnnClassifier(default_cnn_path()).crop,))


def test_shipped_model_on_held_out_scene_faces(held_out_scene_faces):
    model, faces = held_out_scene_faces
    m = classification_metrics(faces.labels, model.classify_crops(faces.crops), model.classes)
    # Guards a little below what the shipped model measured here: accuracy 0.85,
    # recall 0.89 / 0.73 / 0.50 (7 of 14), balanced accuracy 0.709 on 481 faces, retrained for
    # the verifier's score rule (mirror image, template score); for the verifier that learned
    # the close-ups: 0.85, 0.89 / 0.75 / 0.57, 0.735 (before it: 0.85, 0.88 / 0.76 / 0.43, 0.69; before the
    # mirrored features: 0.85, 0.88 / 0.75 / 0.57, 0.73). (Trained with at most 12 augmented
    # copies of a rare face instead of 24: 0.86, 0.90 / 0.76 / 0.43, 0.70; more badly worn
    # masks are found, a few more masks are called badly worn.) Retrained on the faces the
    # later looks find since they scan pose templates and the mirror image, it finds 6 of the
    # 14 badly worn masks, not 8, so the guard allows 6: two faces of 14 are within what
    # retraining moves (the 12-copies variant above found 6 too).
    # Retrained on the faces/ crops of the YuNet detector: 0.87, 0.90 / 0.76 / 0.57 (8 of 14),
    # balanced 0.743 (the model before, on the same crops: 0.85, 0.89 / 0.73 / 0.50, 0.709).
    assert m["n"] > 400
    assert m["accuracy"] >= 0.82
    assert m["per_class"]["with_mask"]["recall"] >= 0.85
    assert m["per_class"]["without_mask"]["recall"] >= 0.72
    assert m["per_class"]["incorrect_mask"]["recall"] >= 0.4
    assert m["balanced_accuracy"] >= 0.68


def test_probabilities_are_calibrated_on_held_out_faces(held_out_scene_faces):
    # Among faces the model calls with_mask at >= 0.8, most really are masked.
    model, faces = held_out_scene_faces
    proba = model.classify_crops(faces.crops)
    sure = proba[:, model.classes.index("with_mask")] >= 0.8
    assert sure.sum() > 100 and np.mean(faces.labels[sure] == "with_mask") >= 0.95


def test_shipped_cnn_and_cascade_on_held_out_scene_faces(held_out_scene_faces):
    from maskhog.classify import Cascade, CnnClassifier, default_cnn_path

    svm, faces = held_out_scene_faces
    cascade = Cascade(svm, CnnClassifier(default_cnn_path()))
    (colour,) = faces.also
    assert colour.shape == faces.crops.shape and colour.shape[-1] == 3   # one rule for both stages
    figures = {name: classification_metrics(faces.labels, model.classify_crops(*crops), svm.classes)
               for name, model, crops in (("svm", svm, [faces.crops]), ("cnn", cascade.cnn, [colour]),
                                          ("cascade", cascade, [faces.crops, colour]))}
    # Measured here (train/cnn_model.json's split, 481 scene faces): accuracy SVM 0.85,
    # CNN 0.95, cascade 0.93 with 31% of faces sent to the CNN; balanced accuracy 0.709,
    # 0.844, 0.822 (retrained for the verifier's score rule; before it 0.735, 0.82, 0.81).
    # Retrained on the faces/ crops of the YuNet detector: accuracy 0.867, 0.946, 0.929 with
    # 32% sent; balanced 0.743, 0.856, 0.822 (the models before: 0.854, 0.954, 0.927 with 30%;
    # 0.709, 0.833, 0.792).
    # The network's draw moves the CNN's balanced accuracy here by about 0.05:
    # on the same crops, the recipe with another seed for the network only gave 0.87 (0.95
    # accuracy), and the weights before, on the crops of the detector before, 0.86 (the
    # without_mask faces are 79, the incorrect_mask 14; docs/design.md#cnn-draws). Guards a little
    # below the worse draw.
    # The cascade's budget is 25% of the validation faces and their varied copies, half of
    # them faces/ photos, of which the SVM is surer than of scene faces.
    assert figures["cnn"]["accuracy"] >= figures["svm"]["accuracy"] + 0.05
    assert figures["cnn"]["balanced_accuracy"] >= figures["svm"]["balanced_accuracy"] + 0.07
    assert figures["cascade"]["accuracy"] >= figures["svm"]["accuracy"] + 0.04
    assert figures["cascade"]["accuracy"] >= figures["cnn"]["accuracy"] - 0.03
    assert 0.05 <= cascade.cnn_fraction <= 0.5


def test_shipped_detector_with_its_verifiers_on_held_out_scene_photos(shared):
    """The detector recipe's test photos: each verifier finds more faces than the templates
    alone, more precisely; the CNN one (the detector's default, with the proposal network)
    finds the most, and more by its score rule (mirror image, template score) than by the crop
    alone."""
    from maskhog.boxes import merge_duplicates
    from maskhog.detect import MaskHog, hog_detector
    from maskhog.training.metrics import detection_figures
    from maskhog.training.scenes import split_scenes
    from maskhog.io import read_image
    from maskhog.detect.verify import CnnFaceVerifier, FaceVerifier

    photos, (_, _, test) = split_scenes([shared / "scenes"], seed=0)
    detector, linear = hog_detector(), hog_detector(verifier="linear").verifier
    without = hog_detector(proposals=False)   # what the linear verifier and the templates alone get
    assert detector.proposals is not None and without.proposals is None
    assert isinstance(detector.verifier, CnnFaceVerifier) and isinstance(linear, FaceVerifier)
    # The CNN verifier judges proposals from a lower template score than the linear one.
    assert detector.verifier.candidate_threshold < linear.candidate_threshold
    cnn, crop_alone, svm, alone = [], [], [], []
    for path in test:
        image = read_image(path)
        truth = [(label, *box) for label, box in photos[path]]
        # The CNN verifier's proposals (the scene template and the network) judged two ways,
        # the templates' alone two more (as MaskHog.detect does each).
        proposals = detector.propose(image, detector.verifier.candidate_threshold)
        cnn.append((merge_duplicates(detector.verifier.keep(image, proposals, detector.threshold)), truth))
        crop_alone.append((merge_duplicates(detector.verifier.keep(image, proposals, detector.threshold,
                                                                   detector.verifier.threshold)), truth))
        templates = without.propose(image, linear.candidate_threshold)
        svm.append((merge_duplicates(linear.keep(image, templates, detector.threshold)), truth))
        alone.append((merge_duplicates([f for f in templates if f.score >= detector.threshold]), truth))
    c, o, v, a = (detection_figures(kept, 24) for kept in (cnn, crop_alone, svm, alone))
    # Measured: CNN 0.819 / 0.740 at precision 0.901 (by the crop alone 0.799 / 0.740 at
    # 0.913); linear 0.65 / 0.48 at 0.92; templates alone 0.59 / 0.45 at 0.87.
    assert len(test) == 137 and v["faces"]["with_mask"] == 448
    assert v["recall_with_mask"] >= 0.63 and v["recall_without_mask"] >= 0.45 and v["precision"] >= 0.90
    assert v["recall_with_mask"] > a["recall_with_mask"] + 0.04 and v["precision"] > a["precision"]
    assert c["recall_with_mask"] >= 0.80 and c["recall_without_mask"] >= 0.70 and c["precision"] >= 0.89
    assert o["recall_with_mask"] >= 0.78 and o["precision"] >= 0.90
    assert c["recall_with_mask"] >= o["recall_with_mask"] + 0.01 and c["recall_without_mask"] >= o["recall_without_mask"]
    assert c["recall_with_mask"] > v["recall_with_mask"] + 0.1 and c["recall_without_mask"] > v["recall_without_mask"] + 0.1


def test_a_close_up_the_templates_miss_is_found_mirrored(shared, monkeypatch):
    """A held-out faces/ photo that no look finds as it is, and the same looks find mirrored."""
    import cv2

    from maskhog import tuning
    from maskhog.io import read_image
    from maskhog.pipeline import MaskDetector

    from maskhog.detect import hog_detector

    photo = read_image(shared / "faces" / "without_mask" / "cd_260f1980ad54.jpg")
    finder = MaskDetector(hog_detector())   # the templates' mirror look (YuNet needs none)
    (face,) = finder.find_faces(photo)
    (result,) = finder.detect(photo)
    assert result.box == face.box and result.label == "without_mask"
    # Found in the mirror image, by the first look or a later one; its box mirrored back.
    mirrored = cv2.flip(photo, 1)
    (seen,) = (finder.search.search(mirrored, 1.0) or finder.search.later_looks(mirrored))
    w = photo.shape[1]
    assert face.box == (w - seen.box[2], seen.box[1], w - seen.box[0], seen.box[3])
    monkeypatch.setattr(tuning, "MIRROR", False)
    assert finder.find_faces(photo) == []
