"""Training on real images, the safe model file, and evaluation reports."""

import json

import numpy as np
import pytest

from maskhog.training.augment import Augment
from maskhog.crops import CropSpec
from maskhog.training.evaluate import evaluate
from maskhog.training.metrics import classification_metrics
from maskhog.training.report import write_report
from maskhog.classify import MaskClassifier, default_model_path
from maskhog.modelfiles import ModelError
from maskhog.training.linear import train


@pytest.fixture(scope="module")
def trained(texture_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "textures.npz"
    model, report = train([texture_folders], out=out, spec=CropSpec(size=48),
                          augment=Augment(copies=1), seed=0, C_grid=(0.01, 0.1), log_fn=lambda m: None)
    return model, report, out


def test_two_class_training_learns_and_reports(trained):
    model, report, out = trained
    assert model.classes == ("with_mask", "without_mask")
    assert report["test_metrics"]["accuracy"] >= 0.9
    assert report["search"]["C"] in (0.01, 0.1)
    assert out.stat().st_size < 50_000          # a linear model is kilobytes


def test_saved_model_round_trips_exactly(trained):
    model, _, out = trained
    loaded = MaskClassifier.load(out)
    X = np.random.default_rng(0).random((5, model.n_features)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.crop == model.crop == CropSpec(size=48)
    assert loaded.info["training"]["data"]["seed"] == 0
    np.testing.assert_allclose(loaded.predict_proba(X).sum(axis=1), 1)


def test_damaged_or_foreign_model_files_are_refused(trained, tmp_path):
    _, _, out = trained
    blob = out.read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError, match="not a readable maskhog model"):
        MaskClassifier.load(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ModelError, match="no header"):
        MaskClassifier.load(tmp_path / "other.npz")
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04\x95 not a zip")
    with pytest.raises(ModelError, match="not a readable"):
        MaskClassifier.load(tmp_path / "pickle.npz")
    with open(tmp_path / "array.npz", "wb") as f:
        np.save(f, np.zeros(4))                                  # a plain .npy, renamed
    with pytest.raises(ModelError, match="not a readable"):
        MaskClassifier.load(tmp_path / "array.npz")
    with np.load(out) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["coef"] = arrays["coef"] * 1.01                       # tampered weights
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ModelError, match="checksum"):
        MaskClassifier.load(tmp_path / "edited.npz")
    header = json.loads(bytes(arrays["header"]).decode())
    header["format_version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ModelError, match="newer"):
        MaskClassifier.load(tmp_path / "future.npz")
    with pytest.raises(ModelError, match="no such model"):
        MaskClassifier.load(tmp_path / "missing.npz")


def test_shipped_default_model_loads():
    model = MaskClassifier.load(default_model_path())
    assert set(model.classes) <= {"with_mask", "without_mask", "incorrect_mask"}
    assert default_model_path().stat().st_size < 100_000


def test_models_judge_a_face_and_its_mirror_image_alike(trained):
    """Trained models describe a face by its crop and mirror image together (features
    ``mirror``), so the way a face turns cannot change its verdict."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut()[20:230, 150:330, ::-1], (64, 64), interpolation=cv2.INTER_AREA)
    shipped = MaskClassifier.load(default_model_path())
    assert shipped.features.get("mirror") is True and shipped.gray.features.get("mirror") is True
    crops = np.stack([face, face[:, ::-1]])
    p = shipped.classify_crops(crops)
    np.testing.assert_allclose(p[0], p[1], atol=1e-6)
    p_gray = shipped.gray.classify_crops(crops.mean(axis=3).astype(np.uint8))
    np.testing.assert_allclose(p_gray[0], p_gray[1], atol=1e-6)
    model, _, _ = trained                          # `train` makes such models too
    assert model.features == {"mirror": True}


def test_models_of_the_previous_format_still_load(trained, tmp_path):
    """A version-2 file (before mirrored features) reads as it was written: one view per face."""
    _, _, out = trained
    with np.load(out) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["format_version"], header["features"] = 2, {}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "v2.npz", **arrays)
    old = MaskClassifier.load(tmp_path / "v2.npz")
    crops = np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    from maskhog.features import hog_lbp_features
    np.testing.assert_array_equal(old.describe(crops), hog_lbp_features(crops))


def test_metrics_match_a_hand_count():
    y = np.array(["with_mask", "with_mask", "without_mask", "without_mask"])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    m = classification_metrics(y, proba, ["with_mask", "without_mask"])
    assert m["accuracy"] == 0.75 and m["balanced_accuracy"] == 0.75
    assert m["confusion"]["matrix"] == [[1, 1], [0, 2]]
    assert m["per_class"]["without_mask"]["precision"] == pytest.approx(2 / 3)
    assert m["roc_auc"]["without_mask"] == 1.0


def test_the_c_search_keeps_the_c_whose_calibrated_probabilities_fit_validation_best(texture_folders):
    """fit_classifier records each C's validation log-loss, as a hand count of its calibrated
    model gives it, and keeps the lowest. Some labels are made wrong so that a loose C
    overfits them: the losses differ, and the choice matters."""
    from maskhog.training.data import load_datasets
    from maskhog.features import face_features
    from maskhog.training.faces import face_crops
    from maskhog.training.linear import fit_classifier

    data = load_datasets([texture_folders])
    crops = face_crops(data, CropSpec(size=32), augment=Augment(copies=1, jitter=0.3), seed=0)
    rng = np.random.default_rng(0)
    X = face_features(crops.crops)
    y = np.asarray(crops.labels)
    y = np.where(rng.random(len(y)) < 0.15, y[::-1], y)          # some labels wrong, as in real data
    order = rng.permutation(len(y))
    train_i, val_i = order[: len(y) * 2 // 3], order[len(y) * 2 // 3:]
    grid = (1e-5, 1e-3, 10.0)
    model, search = fit_classifier(X[train_i], y[train_i], X[val_i], y[val_i], C_grid=grid,
                                   crop=CropSpec(size=32), n_jobs=1)
    alone, losses = {}, {}
    for C in grid:
        alone[C], _ = fit_classifier(X[train_i], y[train_i], X[val_i], y[val_i], C_grid=(C,),
                                     crop=CropSpec(size=32), n_jobs=1)
        p = alone[C].predict_proba(X[val_i])
        losses[C] = -np.mean([np.log(p[i, alone[C].classes.index(t)]) for i, t in enumerate(y[val_i])])
        assert search["C_grid"][str(C)] == pytest.approx(losses[C], abs=1e-5)
    assert max(losses.values()) - min(losses.values()) > 0.01
    assert search["C"] == min(losses, key=losses.get)
    np.testing.assert_array_equal(model.predict_proba(X[val_i]), alone[search["C"]].predict_proba(X[val_i]))


def test_evaluate_writes_a_report(trained, texture_folders, tmp_path):
    model, _, _ = trained
    result = evaluate(model, [texture_folders])
    assert result["metrics"]["accuracy"] > 0.9
    files = write_report(result, tmp_path / "report")
    assert [f.name for f in files] == ["metrics.json", "confusion_matrix.png", "roc_pr.png",
                                       "worst_errors.png"]
    assert all(f.stat().st_size > 1000 for f in files[1:])
    assert json.loads(files[0].read_text())["n"] == 200


def test_training_skips_bad_files_and_counts_them(texture_folders, tmp_path):
    import shutil
    root = tmp_path / "data"
    shutil.copytree(texture_folders, root)
    (root / "manifest.csv").unlink()          # plain class folders: every file is read
    (root / "with_mask" / "empty.jpg").write_bytes(b"")
    (root / "with_mask" / "notes.png").write_text("not an image")
    good = (root / "without_mask" / "000.png").read_bytes()
    (root / "without_mask" / "cut.png").write_bytes(good[: len(good) // 3])
    model, report = train([root], spec=CropSpec(size=48), augment=None, C_grid=(0.1,),
                          log_fn=lambda m: None)
    assert report["data"]["skipped"] == 3
    assert report["test_metrics"]["accuracy"] >= 0.9


def test_colour_cues_need_a_colour_crop_rule():
    from dataclasses import replace

    from maskhog.classify import MaskClassifier, default_model_path

    m = MaskClassifier.load(default_model_path())
    assert m.crop.color and "color" in m.features       # the shipped model sees colour
    with pytest.raises(ValueError, match="colour cues but the crop rule makes gray crops"):
        MaskClassifier(m.classes, m.coef, m.intercept, m.calib_a, m.calib_b,
                       crop=replace(m.crop, color=False), features=m.features)


def test_face_crops_cuts_each_face_by_several_rules_from_one_reading(texture_folders):
    from maskhog.training.data import load_dataset
    from maskhog.training.faces import face_crops

    data = load_dataset(texture_folders)
    colour = CropSpec(size=32, color=True)
    both = face_crops(data, CropSpec(size=32), also=(colour,))
    gray_only, colour_only = face_crops(data, CropSpec(size=32)), face_crops(data, colour)
    np.testing.assert_array_equal(both.crops, gray_only.crops)
    (also,) = both.also
    np.testing.assert_array_equal(also, colour_only.crops)
    assert also.shape == (len(data), 32, 32, 3)


def test_face_crops_varies_each_face_alike_for_every_rule(texture_folders):
    import cv2

    from maskhog.training.data import load_dataset
    from maskhog.training.faces import face_crops

    data = load_dataset(texture_folders)
    aug = Augment(copies=2, balance=False, jpeg=0.0)
    both = face_crops(data, CropSpec(size=32), augment=aug, also=(CropSpec(size=32, color=True),))
    # The first rule's crops are those it gets alone: adding a rule changes no draw.
    np.testing.assert_array_equal(both.crops, face_crops(data, CropSpec(size=32), augment=aug).crops)
    (colour,) = both.also
    assert colour.shape == (3 * len(data), 32, 32, 3)
    # Each colour copy, grayed, is the gray copy of the same variation, not another one.
    grayed = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in colour]).astype(float)
    dist = np.abs(grayed[:, None] - both.crops[None].astype(float)).mean(axis=(2, 3))
    np.testing.assert_array_equal(dist.argmin(axis=1), np.arange(len(colour)))
    assert np.diag(dist).max() < 3
    # Without the copies: the faces as they are, by every rule.
    plain = face_crops(data, CropSpec(size=32), also=(CropSpec(size=32, color=True),))
    np.testing.assert_array_equal(both.originals().crops, plain.crops)
    np.testing.assert_array_equal(both.originals().also[0], plain.also[0])


def test_colourless_faces_go_to_the_gray_fallback(tmp_path):
    import cv2

    from maskhog.io.demo import demo_images
    from maskhog.crops import crop_faces
    from maskhog.features import face_features
    from maskhog.classify import MaskClassifier, default_model_path

    m = MaskClassifier.load(default_model_path())
    assert m.gray is not None and "color" not in m.gray.features
    (_, photo), (_, masked) = demo_images()
    box = [(165, 80, 275, 190)]   # the astronaut's face
    colour = [crop_faces(im, box, m.crop) for im in (photo, masked)]
    gray = [crop_faces(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), box, m.crop) for im in (photo, masked)]
    X = face_features(np.concatenate(colour + gray), **m.features)
    assert m.achromatic(X).tolist() == [False, False, True, True]
    p = m.predict_proba(X)
    np.testing.assert_allclose(p[2:], m.gray.predict_proba(X[2:, :m.gray.n_features]))
    # Without colour no skin shows: the colour weights alone would not see a bare face. Those
    # trained on the YuNet detector's crops give it 0.30 / 0.34 / 0.36 (with / without / badly
    # worn; those before called it masked, 0.70), the gray weights 0.004 with_mask.
    mask, no_mask = m.classes.index("with_mask"), m.classes.index("without_mask")
    colour_only = MaskClassifier(m.classes, m.coef, m.intercept, m.calib_a, m.calib_b, crop=m.crop,
                                 features=m.features)
    assert colour_only.predict_proba(X[2:3])[0, mask] > max(0.2, 10 * p[2, mask])
    labels = np.asarray(m.classes)[p.argmax(axis=1)].tolist()
    assert labels[:2] == ["without_mask", "with_mask"]
    # The gray weights see the violation; which of the two is a near tie for this face
    # (docs/design.md#c-choice: 8-9% of bare held-out faces go to incorrect_mask).
    assert labels[2] in ("without_mask", "incorrect_mask") and p[2, mask] < 0.1
    # They see the drawn mask; worn well or badly is a near tie too (retrained on the YuNet
    # detector's crops: 0.42 with_mask, 0.50 incorrect_mask; 0.66 and 0.33 before).
    assert labels[3] in ("with_mask", "incorrect_mask") and p[3, mask] > 0.3 and p[3, no_mask] < 0.1
    # The fallback travels in the file, under its own checksums.
    m.save(tmp_path / "m.npz")
    again = MaskClassifier.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict_proba(X), p)


def test_class_folder_faces_are_found_as_predict_finds_them():
    """A close-up portrait: the pipeline's search (with its framed later looks) finds the
    face, and training crops it there; a brick wall has none and is taken whole."""
    import cv2
    from skimage import data

    from maskhog.training.faces import face_finder, whole_or_detected

    finder = face_finder()
    portrait = cv2.cvtColor(data.astronaut()[0:260, 110:350], cv2.COLOR_RGB2BGR)   # 260 x 240
    box, how = whole_or_detected(portrait, finder)
    assert how == "detector"
    x0, y0, x1, y1 = box
    assert 60 <= x1 - x0 <= 200                                       # the face, not the frame
    assert x0 < 130 < x1 and y0 < 110 < y1                            # around her nose
    wall = cv2.cvtColor(data.brick()[:300, :200], cv2.COLOR_GRAY2BGR)
    assert whole_or_detected(wall, finder) == ((0, 50, 200, 250), "whole")   # the centred square
    assert whole_or_detected(portrait, None) == ((0, 10, 240, 250), "whole")


def test_evaluation_cuts_class_folder_faces_as_the_model_was_trained():
    from maskhog.pipeline import MaskDetector
    from maskhog.training.faces import finder_for

    shipped = MaskClassifier.load(default_model_path())
    assert shipped.info["training"]["detector"] == "maskhog"
    assert isinstance(finder_for(shipped), MaskDetector)
    shipped.info = {"training": {"detector": None}}      # trained on whole images
    assert finder_for(shipped) is None


def test_found_boxes_match_each_annotated_face_once_best_score_first():
    from maskhog.boxes import Face
    from maskhog.training.faces import found_boxes

    annotated = [(0, 0, 100, 100), (200, 0, 300, 100), (0, 200, 50, 250)]
    found = [Face((5, 5, 105, 105), 0.5),        # the first face
             Face((10, 0, 110, 100), 0.9),       # the first face too, surer: it takes it
             Face((240, 0, 340, 100), 0.7),      # IoU 0.43 with the second face
             Face((400, 400, 450, 450), 0.99)]   # no face
    assert found_boxes(annotated, found) == [(10, 0, 110, 100), (240, 0, 340, 100), None]
    assert found_boxes(annotated, found, min_iou=0.5) == [(10, 0, 110, 100), None, None]
    assert found_boxes(annotated, []) == [None, None, None]


def test_scene_faces_are_cut_where_the_detector_frames_them(astronaut_scenes):
    """Each photo's face is found and cut at the found box; a box on the bare background is
    kept annotated ("found") or left out and counted ("found-only")."""
    from maskhog.training.data import Dataset, Sample, load_dataset
    from maskhog.training.faces import face_crops, face_finder

    data = load_dataset(astronaut_scenes)
    photos = sorted({s.path for s in data.samples})[:4]
    samples = [s for s in data.samples if s.path in photos]
    bare = Sample(photos[0], "without_mask", (0, 0, 40, 40), photos[0])   # no face there
    data = Dataset(samples + [bare])
    spec = CropSpec(size=32, color=True)
    finder = face_finder()
    annotated = face_crops(data, spec)
    found = face_crops(data, spec, detector=finder, scene_boxes="found")
    only = face_crops(data, spec, detector=finder, scene_boxes="found-only")
    assert annotated.summary()["by_origin"] == {"box": 5}
    assert found.summary()["by_origin"] == {"found": 4, "box": 1} and found.not_found == 0
    assert only.summary()["by_origin"] == {"found": 4} and only.not_found == 1
    found_boxes = [b for (_, b), how in zip(found.sources, found.origin) if how == "found"]
    assert found_boxes != [s.box for s in samples]   # the detector's framing, not the annotation's
    with pytest.raises(ValueError, match="needs a detector"):
        face_crops(data, spec, scene_boxes="found")
    with pytest.raises(ValueError, match="not one of"):
        face_crops(data, spec, detector=finder, scene_boxes="nearby")
