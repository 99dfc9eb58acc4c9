"""The top-level Python API, called as a user's script calls it."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.feature import hog as sk_hog
from skimage.feature import local_binary_pattern

import maskhog
from maskhog.io import ImageError
from maskhog.io.demo import demo_images

RECORDED = Path(__file__).parent / "data" / "predict_demo.jsonl"
API = ["MaskDetector", "hog", "lbp_histograms", "predict", "read_image"]


def test_import_maskhog_loads_nothing_heavy_and_lists_the_api():
    code = ("import sys, maskhog; "
            "print(sorted(m for m in ('cv2', 'numpy', 'dlib', 'skimage', 'sklearn') if m in sys.modules)); "
            "print(sorted(set(maskhog.__all__) & set(dir(maskhog))))")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         check=True)
    heavy, listed = out.stdout.splitlines()
    assert heavy == "[]"
    assert eval(listed) == sorted(API + ["__version__"])
    # -X importtime names every module imported: the package's own, and no OpenCV.
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "maskhog" in imported and not {"cv2", "numpy"} & imported


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'predcit'"):
        maskhog.predcit
    assert not hasattr(maskhog, "Detector")


def _recorded():
    return [json.loads(line)["faces"] for line in RECORDED.read_text().splitlines()]


def test_predict_on_files_gives_the_commands_records(tmp_path):
    recorded = _recorded()
    for (name, image), faces in zip(demo_images(), recorded):
        path = tmp_path / f"{name.split()[-1]}.png"   # PNG: lossless, the same pixels as in memory
        cv2.imwrite(str(path), image)
        assert maskhog.predict(path) == faces
        assert maskhog.predict(str(path)) == faces
    assert [f["label"] for f in recorded[0] + recorded[1]] == ["without_mask", "with_mask"]


def test_predict_on_arrays_in_either_channel_order():
    (_, photo), (_, masked) = demo_images()
    faces = maskhog.predict(masked)
    assert faces == _recorded()[1]
    assert maskhog.predict(np.ascontiguousarray(masked[:, :, ::-1]), rgb=True) == faces
    # Plain types: a record goes to json as it is.
    assert json.loads(json.dumps(faces)) == faces and type(faces[0]["stage"]) is str
    assert maskhog.predict(np.full((240, 320, 3), 127, np.uint8)) == []


def test_predict_refuses_what_is_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="notes.jpg"):
        maskhog.predict(tmp_path / "notes.jpg")
    with pytest.raises(ImageError, match="no such file"):
        maskhog.predict(tmp_path / "missing.jpg")
    with pytest.raises(TypeError, match="list"):
        maskhog.predict([[0, 0], [0, 0]])


def test_read_image_and_mask_detector(tmp_path):
    (_, photo), _ = demo_images()
    cv2.imwrite(str(tmp_path / "astronaut.png"), photo)
    image = maskhog.read_image(tmp_path / "astronaut.png")
    assert image.shape == photo.shape and np.array_equal(image, photo)
    faces = maskhog.MaskDetector().detect(image)
    assert len(faces) == 1 and faces[0].label == "without_mask"
    x1, y1, x2, y2 = faces[0].box
    assert x1 < 220 < x2 and y1 < 120 < y2   # around her nose


def test_hog_and_lbp_of_a_face_crop_equal_scikit_images():
    (_, photo), _ = demo_images()
    face = np.ascontiguousarray(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)[74:138, 190:254])
    np.testing.assert_allclose(maskhog.hog(face), sk_hog(face, 9, (8, 8), (2, 2), "L2-Hys"), atol=1e-5)
    histograms = maskhog.lbp_histograms(face, grid=2).reshape(4, 10)
    codes = local_binary_pattern(face, 8, 1, "uniform").astype(int)[:32, :32]
    np.testing.assert_allclose(histograms[0], np.bincount(codes.ravel(), minlength=10) / codes.size, atol=1e-6)
    assert np.allclose(histograms.sum(axis=1), 1)
