"""`maskhog explain`: the linear score split over the cells of real faces, and its command."""

import json
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.classify import MaskClassifier, default_model_path, make_classifier
from maskhog.cli import main
from maskhog.crops import CropSpec, crop_faces
from maskhog.features import face_features
from maskhog.explain import explain_image, explain_linear, feature_layout, occlusion_map
from maskhog.io.demo import demo_images, three_faces
from maskhog.pipeline import MaskDetector


@pytest.fixture(scope="module")
def finder():
    """The pipeline as `predict` runs it by default: maskhog's detector and the cascade."""
    return MaskDetector(model=make_classifier())


@pytest.fixture(scope="module")
def explained(finder):
    """Every face of the demo photos and of the three-face picture, explained."""
    images = [image for _, image in demo_images()] + [three_faces()]
    return [face for image in images for face in explain_image(image, finder)]


def _direct_decision(model, crop):
    """w . x + b in float64, with the model's own features: what the split must add up to."""
    x = model.describe(crop[np.newaxis])[0].astype(np.float64)
    return model.coef.astype(np.float64) @ x + model.intercept, x


def test_contributions_plus_intercept_are_the_decision_value_of_every_face(finder, explained):
    assert len(explained) == 5   # one face in each demo photo, three in the picture
    for face in explained:
        lin = face.linear
        assert lin.model == "colour" and lin.rows == lin.classes
        scale = 1 + np.abs(lin.pixels).sum(axis=(1, 2))
        np.testing.assert_allclose(lin.total, lin.decision, rtol=0, atol=1e-5 * scale.max())
        # The model sums in float32; in float64 the split is exact to rounding.
        exact, _ = _direct_decision(finder.model.svm, lin.crop)
        np.testing.assert_allclose(lin.total, exact, rtol=0, atol=1e-9)
        # The heat maps carry the same sum, over pixels and over HOG cells.
        np.testing.assert_allclose(lin.pixels.sum(axis=(1, 2)) + lin.intercept, exact, atol=1e-9)
        np.testing.assert_allclose(lin.cells.sum(axis=(1, 2)) + lin.intercept, exact, atol=1e-9)
        # The probabilities are the model's, and the pipeline's when the SVM decided.
        np.testing.assert_allclose(lin.probabilities, finder.model.svm.predict_proba(lin.features[None])[0])
        if face.stage == "svm":
            np.testing.assert_allclose(lin.probabilities, list(face.probabilities.values()), atol=1e-6)


def test_the_verdicts_are_the_pipelines(finder, explained):
    results = finder.detect(three_faces())
    faces = explained[-3:]
    assert [f.box for f in faces] == [r.box for r in results]
    assert [f.label for f in faces] == [r.label for r in results]
    assert [f.stage for f in faces] == [str(r.stage) for r in results]
    labels = {f.label for f in faces}
    assert labels == {"with_mask", "without_mask"}


def test_cnn_faces_get_an_occlusion_map_marked_as_an_approximation(finder, explained):
    # The shipped SVM is sure of all five faces, so the cascade is asked with the threshold
    # `live` uses, 1.0: every colour face goes to the CNN.
    everything_to_cnn = MaskDetector(model=make_classifier("cascade", threshold=1.0))
    cnn_faces = [face for image in (demo_images()[0][1], three_faces())
                 for face in explain_image(image, everything_to_cnn)]
    assert len(cnn_faces) == 4 and {f.stage for f in cnn_faces} == {"cnn"}
    for face in cnn_faces:
        occ = face.occlusion
        assert occ.approximation and occ.to_dict()["approximation"] is True
        assert occ.label == face.label and occ.drop.shape == occ.crop.shape[:2]
        assert any("approximation" in note for note in face.notes)
    assert all(f.occlusion is None for f in explained if f.stage == "svm")


def test_hiding_the_middle_of_the_face_lowers_the_unmasked_verdict_most(finder):
    # The astronaut shows her face: greying out its middle (eyes, nose, mouth: what a mask
    # covers or frames) must cost p(without_mask) far more than her forehead or the background.
    photo = demo_images()[0][1]
    # The default detector's box, whose crops the shipped CNN learned from.
    box = finder.find_faces(photo)[0].box
    cnn = finder.model.cnn
    occ = occlusion_map(cnn, crop_faces(photo, [box], cnn.crop)[0], "without_mask")
    y, x = np.unravel_index(occ.drop.argmax(), occ.drop.shape)
    assert occ.drop.max() > 0.01 and 16 <= y < 56 and 16 <= x < 48   # the middle of the 64-px crop
    assert occ.drop[:12].max() < occ.drop.max() / 4   # the forehead matters far less
    assert max(occ.drop[:, :8].max(), occ.drop[:, 56:].max()) < occ.drop.max() / 4   # and the sides
    assert occ.drop[36:52, 16:48].max() > 4 * occ.drop[:12].max()   # the mouth does count


def test_detector_note_names_the_proposer_and_the_verifier_score(explained):
    # The default detector's first look at a colour photo is YuNet's: each face is found again
    # among YuNet's boxes, and the score it was kept by clears its rule's threshold.
    for face in explained:
        d = face.detector
        assert d.detector == "maskhog" and d.proposer == "YuNet"
        assert d.verifier == "cnn" and d.verifier_score >= d.verifier_threshold


def test_detector_note_of_the_classical_detector_names_our_proposers(finder):
    from maskhog.detect import hog_detector

    classical = MaskDetector(hog_detector(), finder.model)
    faces = [f for _, image in demo_images() for f in explain_image(image, classical)]
    assert len(faces) == 2
    for face in faces:
        d = face.detector
        assert d.proposer in ("fHOG templates", "proposal network")
        assert d.verifier == "cnn" and d.verifier_score >= d.verifier_threshold


def test_gray_image_is_explained_with_the_gray_fallback(finder):
    gray = cv2.cvtColor(cv2.cvtColor(demo_images()[0][1], cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    [face] = explain_image(gray, finder)
    lin = face.linear
    assert lin.model == "gray fallback" and "skin" not in lin.contributions
    exact, _ = _direct_decision(finder.model.svm.gray, lin.crop)
    np.testing.assert_allclose(lin.total, exact, atol=1e-9)
    np.testing.assert_allclose(lin.total, lin.decision, atol=1e-4)


@pytest.mark.parametrize("classes", [("with_mask", "without_mask"),
                                     ("with_mask", "without_mask", "incorrect_mask")])
@pytest.mark.parametrize("mirror", [False, True])
def test_the_split_holds_for_gray_models_of_two_or_three_classes(photos, classes, mirror):
    crop_rule = CropSpec(size=48, color=False)
    features = {"pixels_per_cell": (6, 8), "cells_per_block": (3, 2), "lbp_grid": (3, 5), "mirror": mirror}
    k = 1 if len(classes) == 2 else len(classes)
    d = face_features(np.zeros((1, 48, 48), np.uint8), **features).shape[1]
    rng = np.random.default_rng(7)
    model = MaskClassifier(classes, rng.normal(size=(k, d)), rng.normal(size=k), -np.ones(k), np.zeros(k),
                           crop=crop_rule, features=features)
    crop = crop_faces(photos["astronaut"], [(175, 75, 272, 172)], crop_rule)[0]
    lin = explain_linear(model, crop)
    assert lin.model == "gray" and len(lin.rows) == k
    exact, _ = _direct_decision(model, crop)
    np.testing.assert_allclose(lin.total, exact, atol=1e-9)
    assert lin.cells.shape == (k, 8, 6) and lin.contributions["lbp"].shape == (k, 3, 5)


def test_hog_layout_matches_scikit_image_cells(photos):
    from skimage.feature import hog

    crop = photos["astronaut"][30:94, 170:234]
    blocks = hog(crop, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), feature_vector=False)
    layout = feature_layout({}, crop.shape)[0]
    n_br, n_bc, br, bc, o = blocks.shape
    expected = np.array([(r + i) * 8 + (c + j) for r in range(n_br) for c in range(n_bc)
                         for i in range(br) for j in range(bc) for _ in range(o)])
    np.testing.assert_array_equal(layout.cell, expected)


def test_explain_refuses_a_crop_of_the_wrong_shape():
    model = MaskClassifier.load(default_model_path())
    with pytest.raises(ValueError, match="crops of shape"):
        explain_linear(model, np.zeros((64, 64), np.uint8))


# ------------------------------------------------------------------ command --

def test_explain_json_has_the_fields_and_the_identity(tmp_path):
    image = tmp_path / "three.png"
    cv2.imwrite(str(image), three_faces())
    result = CliRunner().invoke(main, ["explain", str(image), "--format", "json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert line["file"] == str(tmp_path / "three.json") and len(line["faces"]) == 3
    record = json.loads((tmp_path / "three.json").read_text())
    assert record["image"] == str(image)
    for face in record["faces"]:
        assert set(face) >= {"box", "label", "score", "probabilities", "stage", "detector", "linear", "occlusion"}
        lin = face["linear"]
        np.testing.assert_allclose(lin["contributions_plus_intercept"], lin["decision"], atol=1e-5)
        summed = [sum(np.sum(lin["contributions"][g][row]) for g in lin["contributions"]) + b
                  for row, b in zip(lin["rows"], lin["intercept"])]
        np.testing.assert_allclose(summed, lin["decision"], atol=1e-5)
        assert face["detector"]["proposer"] == "YuNet"
        assert (face["occlusion"] is not None) == (face["stage"] == "cnn")
        if face["occlusion"]:
            assert face["occlusion"]["approximation"] is True


def test_explain_png_writes_one_figure_per_face(tmp_path):
    result = CliRunner().invoke(main, ["explain", "--demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = [face["file"] for line in result.stdout.splitlines() for face in json.loads(line)["faces"]]
    assert len(files) == 2
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        assert cv2.imread(name).shape[1] > 600


def test_explain_bad_input_gives_a_clear_message(tmp_path):
    runner = CliRunner()
    usage = runner.invoke(main, ["explain"])
    assert usage.exit_code == 2 and "give image files" in usage.output
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    result = runner.invoke(main, ["explain", str(bad), str(tmp_path / "missing.jpg"), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "no readable image" in result.output
    assert "notes.png" in result.stderr and "missing.jpg" in result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 200, np.uint8))
    empty = runner.invoke(main, ["explain", str(blank), "--out", str(tmp_path), "--no-later-looks"])
    assert empty.exit_code == 0 and "no face found" in empty.stderr
    assert json.loads(empty.stdout)["faces"] == []


def test_explain_png_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    # An entry of None in sys.modules makes `import matplotlib.figure` fail as if not installed.
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = CliRunner().invoke(main, ["explain", "--demo", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "maskhog[explain]" in result.output
    assert not list(tmp_path.glob("*.png"))
