"""Hostile input: files made to crash, hang or exhaust maskhog get one clear refusal.

Each test here reproduces a way a crafted or damaged input once broke a
command (a traceback, gigabytes allocated, a wrong exit status) and checks it
is now refused, or handled, with a message that names the file.
"""

import numpy as np
import pytest

from maskhog.crops import CropSpec, crop_faces
from maskhog.training.data import load_dataset
from maskhog.training.faces import face_crops

VOC = """<annotation><filename>a.jpg</filename>{size}{objects}</annotation>"""
OBJ = ("<object><name>with_mask</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin>"
       "<xmax>{2}</xmax><ymax>{3}</ymax></bndbox></object>")


def voc_folder(root, photos, size, *boxes):
    import cv2

    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    cv2.imwrite(str(root / "images" / "a.jpg"), cv2.resize(photos["astronaut"], (320, 240)))
    objects = "".join(OBJ.format(*b) for b in boxes)
    (root / "annotations" / "a.xml").write_text(VOC.format(size=size, objects=objects))
    return root


@pytest.mark.parametrize("size", ["", "<size><width>inf</width><height>nan</height></size>",
                                  "<size><width>1e400</width><height>-5</height></size>"])
def test_voc_numbers_that_are_not_pixels_are_skipped_not_a_traceback(tmp_path, photos, size):
    root = voc_folder(tmp_path / "voc", photos, size, (10, 10, "1e400", 60), ("nan", 1, 50, 50),
                      (-1e30, 0, 40, 40), (20, 20, 80, 90))
    data = load_dataset(root)
    assert [s.box for s in data.samples] == [(20, 20, 80, 90)]
    assert sum("a.xml" in m and "bndbox" in m for m in data.skipped) == 3


def test_boxes_are_clipped_to_the_decoded_image_not_the_declared_size(tmp_path, photos):
    # No <size>, or a false one: a 90000-px box once asked for a 24 GB crop.
    false_size = "<size><width>100000</width><height>100000</height></size>"
    for k, size in enumerate(["", false_size]):
        root = voc_folder(tmp_path / f"voc{k}", photos, size, (-90000, 5, 90000, 90005),
                          (5000, 5000, 5100, 5100), (30, 40, 130, 160))
        crops = face_crops(load_dataset(root), CropSpec(size=32), n_jobs=1)
        assert [box for _, box in crops.sources] == [(0, 5, 320, 240), (30, 40, 130, 160)]
        assert crops.crops.shape == (2, 32, 32)
        assert any("outside the decoded 320x240 image" in m for m in crops.skipped)


def test_a_crop_of_a_box_far_outside_the_image_stays_small(photos):
    image = photos["coins"]
    out = crop_faces(image, [(-1e9, -1e9, 1e9, 1e9), (10, 10, 50, 50)], CropSpec(size=16))
    assert out.shape == (2, 16, 16)
    inside = crop_faces(image, [(10, 10, 50, 50)], CropSpec(size=16))
    assert np.array_equal(out[1], inside[0])


@pytest.mark.parametrize("header", [{"size": 30000, "margin": 0, "clahe": False},
                                    {"size": 64, "margin": 1e9, "clahe": False},
                                    {"size": 64.5, "margin": 0, "clahe": False}])
def test_a_crop_rule_no_model_has_is_refused(header):
    with pytest.raises(ValueError, match="crop"):
        CropSpec.from_dict(header)
