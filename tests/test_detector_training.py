"""Training a detector template on a small Pascal VOC set of real photos."""

import cv2
import numpy as np
import pytest
from skimage import data

from maskhog.boxes import square_of_area as square
from maskhog.training.scenes import image_split
from maskhog.training.templates import scene_chips, train_templates


def test_split_holds_out_whole_photos_reproducibly():
    names = [f"p{i}.jpg" for i in range(100)]
    train, val, test = image_split(names, seed=0)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert not set(train) & set(test) and sorted(train + val + test) == sorted(names)
    assert image_split(reversed(names), seed=0) == (train, val, test)
    assert square((0, 0, 40, 10)) == (20.0, 5.0, 20.0)


def test_chips_put_faces_at_the_window_scale(astronaut_scenes, tmp_path):
    from maskhog.training.data import load_dataset

    photos = {}
    for s in load_dataset(astronaut_scenes).samples:
        photos.setdefault(s.path, []).append((s.label, s.box))
    entries = scene_chips(photos, 40, tmp_path, seed=0, ctx_side=0)
    assert len(entries) == len(photos)                 # one face each: one chip each
    for chip, pos, ign in entries:
        (left, top, w, h, label), = pos
        assert label == "without_mask" and w == h and 36 <= w <= 52   # 0.9-1.3 windows
        height, width = cv2.imread(chip, cv2.IMREAD_GRAYSCALE).shape
        assert left >= 8 and top >= 8 and left + w <= width - 8 and top + h <= height - 8


def test_train_templates_makes_a_template_that_finds_the_face(astronaut_scenes, tmp_path):
    import dlib

    recipe = (("tiny.svm", {"window": 40, "C": 100.0, "ctx_side": 320, "paste": 0}),)
    records = train_templates([astronaut_scenes], out_dir=tmp_path, work=tmp_path / "work",
                             recipe=recipe, max_runtime=60, log_fn=lambda m: None)
    assert records["tiny.svm"]["positives"] >= 6
    detector = dlib.fhog_object_detector(str(tmp_path / "tiny.svm"))
    assert (detector.detection_window_width, detector.detection_window_height) == (40, 40)
    # A held-out photo (the split keeps 20% of them out of training) is found.
    from maskhog.training.data import load_dataset

    sample = next(s for s in load_dataset(astronaut_scenes).samples if s.path.endswith("s11.jpg"))
    gray = cv2.cvtColor(cv2.imread(sample.path), cv2.COLOR_BGR2GRAY)
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(gray)]
    from maskhog.boxes import iou as box_iou
    assert any(box_iou(b, sample.box) >= 0.4 for b in boxes), (boxes, sample.box)
    with pytest.raises(ValueError, match="give the face folders"):
        train_templates([astronaut_scenes], out_dir=tmp_path, work=tmp_path / "w2",
                       recipe=(("p.svm", {"window": 40, "C": 1.0, "ctx_side": 0, "paste": 10}),))


def test_cli_train_detector_needs_faces_for_the_pasted_template(astronaut_scenes, tmp_path):
    from click.testing import CliRunner

    from maskhog.cli import main

    result = CliRunner().invoke(main, ["train-detector", str(astronaut_scenes), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1 and "face_fhog48_paste.svm paste face photos: give the face folders" in result.output
    assert not (tmp_path / "out").exists()


def test_trained_templates_plug_into_the_commands(astronaut_scenes, tmp_path):
    import json

    from click.testing import CliRunner

    from maskhog.cli import main
    from maskhog.detect import MaskHog

    settings = {"window": 40, "C": 100.0, "ctx_side": 320, "paste": 0}
    train_templates([astronaut_scenes], out_dir=tmp_path / "mine", work=tmp_path / "work",
                   recipe=[(name, settings) for name in MaskHog.TEMPLATES], max_runtime=60,
                   log_fn=lambda m: None)
    held_out = str(astronaut_scenes / "images" / "s11.jpg")
    result = CliRunner().invoke(main, ["detect", held_out, "--templates", str(tmp_path / "mine")])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["faces"]) >= 1
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["detect", held_out, "--templates", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "make them with `maskhog train-detector`" in result.output
    (tmp_path / "junk").mkdir()
    for name in MaskHog.TEMPLATES:
        (tmp_path / "junk" / name).write_text("not a template")
    result = CliRunner().invoke(main, ["predict", held_out, "--templates", str(tmp_path / "junk")])
    assert result.exit_code == 1 and "not dlib fHOG templates" in result.output
    result = CliRunner().invoke(main, ["detect", held_out, "--detector", "dlib", "--templates", str(tmp_path / "mine")])
    assert result.exit_code == 2 and "the dlib detector takes no option 'templates'" in result.output


def test_unreadable_photos_are_skipped_with_their_name(astronaut_scenes, tmp_path, caplog):
    from maskhog.training.data import load_dataset
    from maskhog.training.templates import pasted_chips

    photos = {}
    for s in load_dataset(astronaut_scenes).samples[:3]:
        photos.setdefault(s.path, []).append((s.label, s.box))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    photos[str(bad)] = [("with_mask", (10, 10, 60, 60))]
    face = tmp_path / "face.png"          # a tight face photo, as in class folders
    cv2.imwrite(str(face), np.ascontiguousarray(data.astronaut()[60:200, 160:290, ::-1]))
    with caplog.at_level("WARNING", logger="maskhog"):
        entries = scene_chips(photos, 40, tmp_path / "chips", ctx_side=0)
        pasted = pasted_chips({p: b for p, b in photos.items() if p != str(bad)},
                              [(str(bad), "with_mask"), (str(face), "without_mask")],
                              40, tmp_path / "paste", n=5)
    assert len(entries) == 3 and "broken.jpg" in caplog.text
    (chip, pos, _), = pasted
    assert pos[0][4] == "without_mask" and cv2.imread(chip).shape[:2] == (160, 160)
