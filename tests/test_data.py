"""Reading class folders and Pascal VOC, and group-aware splits."""

import cv2
import numpy as np
import pytest

from maskhog.training.augment import Augment, augmented_crops
from maskhog.crops import CropSpec
from maskhog.training.data import group_split, load_dataset, load_datasets

VOC = """<annotation><filename>{name}</filename><size><width>512</width><height>384</height></size>
{objects}</annotation>"""
OBJ = "<object><name>{label}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"


def write_voc(root, photos, caplog=None):
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    img = cv2.resize(photos["astronaut"], (512, 384))
    cv2.imwrite(str(root / "images" / "a.jpg"), img)
    objects = [OBJ.format(label="with_mask", x1=10, y1=10, x2=60, y2=60),
               OBJ.format(label="mask_weared_incorrect", x1=100, y1=20, x2=150, y2=80),
               OBJ.format(label="helmet", x1=1, y1=1, x2=30, y2=30),           # unknown label
               OBJ.format(label="without_mask", x1=600, y1=10, x2=700, y2=50),  # outside
               OBJ.format(label="without_mask", x1=480, y1=350, x2=530, y2=400)]  # clipped
    (root / "annotations" / "a.xml").write_text(VOC.format(name="a.jpg", objects="".join(objects)))
    (root / "annotations" / "broken.xml").write_text("<annotation><object>")
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            '<annotation><filename>&lol2;</filename></annotation>')
    (root / "annotations" / "bomb.xml").write_text(bomb)
    return root


def test_voc_reader_keeps_good_boxes_and_names_bad_ones(tmp_path, photos):
    data = load_dataset(write_voc(tmp_path / "voc", photos))
    assert [(s.label, s.box) for s in data.samples] == [
        ("with_mask", (10, 10, 60, 60)), ("incorrect_mask", (100, 20, 150, 80)),
        ("without_mask", (480, 350, 512, 384))]
    text = "\n".join(data.skipped)
    assert "helmet" in text and "outside" in text and "broken.xml" in text and "bomb.xml" in text
    assert len({s.group for s in data.samples}) == 1      # one photo, one group


def test_class_folders_with_and_without_manifest(tmp_path, texture_folders):
    data = load_dataset(texture_folders)
    assert data.counts() == {"with_mask": 100, "without_mask": 100}
    assert len(set(data.groups)) == 50
    plain = tmp_path / "plain"
    (plain / "No Mask").mkdir(parents=True)
    (plain / "masked").mkdir()
    (plain / "README").mkdir()
    for d in ("No Mask", "masked"):
        cv2.imwrite(str(plain / d / "x.png"), np.zeros((8, 8), np.uint8))
    data = load_dataset(plain)
    assert data.counts() == {"with_mask": 1, "without_mask": 1}
    assert any("README" in s for s in data.skipped)
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nowhere")


def test_group_split_keeps_groups_whole_and_classes_balanced(texture_folders):
    data = load_datasets([texture_folders])
    parts = group_split(data, (0.7, 0.15, 0.15), seed=1)
    assert sum(len(p) for p in parts) == len(data)
    groups = [set(data.groups[p]) for p in parts]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    for p in parts:
        assert set(data.labels[p]) == {"with_mask", "without_mask"}
    again = group_split(data, (0.7, 0.15, 0.15), seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_augmentation_is_reproducible_and_varied(photos):
    gray = photos["astronaut"]
    box = (175, 76, 265, 166)
    spec, aug = CropSpec(), Augment(copies=4)
    a = augmented_crops(gray, box, spec, aug, np.random.default_rng(3))
    b = augmented_crops(gray, box, spec, aug, np.random.default_rng(3))
    assert a.shape == (4, 64, 64)
    np.testing.assert_array_equal(a, b)
    assert len({c.tobytes() for c in a}) == 4
