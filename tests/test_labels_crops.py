"""Class names and the crop rule shared by training and run time."""

import numpy as np

from maskhog.detect import hog_detector
import pytest

from maskhog.crops import CropSpec, crop_faces, square_box
from maskhog.labels import CLASSES, LabelError, canonical_label


@pytest.mark.parametrize("name, label", [
    ("with_mask", "with_mask"), ("Mask", "with_mask"), ("no-mask", "without_mask"),
    ("nomask", "without_mask"), ("mask_weared_incorrect", "incorrect_mask"),
    ("Improper", "incorrect_mask"), (" incorrect mask ", "incorrect_mask"),
])
def test_label_spellings(name, label):
    assert canonical_label(name) == label


def test_unknown_label_is_refused_clearly():
    with pytest.raises(LabelError, match="unknown class name 'helmet'"):
        canonical_label("helmet")
    assert CLASSES == ("with_mask", "without_mask", "incorrect_mask")


def test_crop_is_the_grown_square_around_the_box(face_crops):
    image = np.zeros((200, 300), np.uint8)
    image[50:150, 100:160] = 255               # a 60x100 bright box
    spec = CropSpec(size=40, margin=0.0, clahe=False)
    crop = crop_faces(image, [(100, 50, 160, 150)], spec)[0]
    assert crop.shape == (40, 40)
    # The square is 100 wide: the bright box fills its middle 60% of columns.
    assert crop[:, 10:30].min() > 200 and crop[:, :6].max() < 50 and crop[:, -6:].max() < 50
    assert square_box((100, 50, 160, 150), 0.1) == (130.0, 100.0, 120.0)


def test_boxes_at_and_beyond_the_border_repeat_its_pixels(photos):
    image = photos["camera"]
    spec = CropSpec(size=64)
    crops = crop_faces(image, [(-30, -30, 50, 50), (480, 480, 560, 560), (900, 900, 990, 990)], spec)
    assert crops.shape == (3, 64, 64) and crops.dtype == np.uint8
    assert crop_faces(image, [], spec).shape == (0, 64, 64)


def test_clahe_evens_out_a_dim_face(photos):
    dim = (photos["astronaut"] // 4).astype(np.uint8)      # the same photo, underexposed
    face = [(175, 76, 265, 166)]
    plain = crop_faces(dim, face, CropSpec(clahe=False))[0]
    even = crop_faces(dim, face, CropSpec(clahe=True))[0]
    assert even.std() > 2 * plain.std()


def test_maskhog_detector_finds_a_real_face_and_merges_duplicates(photos):
    import pickle

    from maskhog.boxes import Face, merge_duplicates
    from maskhog.detect import MaskHog, make_detector

    det = make_detector("maskhog")
    faces = det.detect(photos["astronaut"])
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert 160 < x1 < 190 and 60 < y1 < 90 and 80 < x2 - x1 < 120
    assert det.detect(photos["camera"]) == []       # a photographer seen from the side: no face
    assert isinstance(pickle.loads(pickle.dumps(det)), MaskHog)     # for worker processes
    a, b, c = Face((0, 0, 10, 10), 0.9), Face((1, 1, 11, 11), 0.5), Face((50, 50, 60, 60), 0.1)
    assert merge_duplicates([b, c, a]) == [a, c]
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("yolo")


def test_pipeline_on_degenerate_images_gives_clear_results():
    from maskhog.pipeline import MaskDetector

    m = MaskDetector()
    for shape in [(1, 1), (1, 1, 3), (2, 2, 4), (5, 500, 3)]:
        assert m.detect(np.zeros(shape, np.uint8)) == []
    with pytest.raises(ValueError, match="no pixels"):
        m.detect(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        m.detect(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match="no pixels"):
        m.detect(np.zeros((0, 0), np.uint8))


def test_huge_image_is_searched_shrunk_with_a_warning(photos, caplog):
    """A 20000x20000 frame: shrunk to 4096 px for detection, boxes in its own pixels."""
    import cv2

    from maskhog.pipeline import MaskDetector

    huge = np.full((20000, 20000), 128, np.uint8)     # gray: 400 MB, never copied to 3 channels
    # The astronaut's face, enlarged to the size it has in a 20000-px photo.
    face = cv2.resize(photos["astronaut"][40:240, 120:320], (4000, 4000))
    huge[8000:12000, 8000:12000] = face
    with caplog.at_level("WARNING", logger="maskhog"):
        faces = MaskDetector().detect(huge)
    assert "shrunk" in caplog.text
    assert len(faces) == 1 and faces[0].label == "without_mask"
    x1, y1, x2, y2 = faces[0].box
    assert 8000 < x1 < x2 < 12000 and 8000 < y1 < y2 < 12000 and x2 - x1 > 1000


def test_slivers_and_specks_give_no_faces_and_no_error(photos):
    """Images one or two pixels across: every look at them (shrunk to 400 px, framed,
    enlarged, or shrunk under the largest side searched) must cope; a 1x1000 strip once
    shrank to zero rows and crashed, and so did a 1x50000 one."""
    from maskhog.pipeline import MaskDetector

    finder = MaskDetector()
    strip = photos["astronaut"][200:201]                  # one real row of the photo
    for image in (strip, strip.T, np.tile(strip, (2, 10)), np.tile(strip, (1, 100)),
                  np.tile(strip.T, (100, 2)), photos["astronaut"][:1, :1], np.zeros((3, 3, 4), np.uint8)):
        assert finder.detect(image) == []


def test_haar_detector_finds_a_real_face_at_any_upsampling(photos):
    from maskhog.detect import HaarFrontal, make_detector

    for det in (make_detector("haar"), HaarFrontal(upsample=1)):
        faces = det.detect(photos["astronaut"])
        assert faces and faces == sorted(faces, key=lambda f: -f.score)
        x1, y1, x2, y2 = faces[0].box                    # the best is her face
        assert 160 < x1 < 190 and 55 < y1 < 90 and 80 < x2 - x1 < 120
    assert make_detector("haar").detect(np.zeros((1, 1), np.uint8)) == []


def test_colour_crops_follow_the_same_rule_as_gray_ones():
    import cv2
    from skimage import data

    from maskhog.training.augment import Augment, augmented_crops
    from maskhog.crops import CropSpec, crop_faces

    bgr = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    boxes = [(170, 70, 270, 170), (-30, -30, 60, 60), (500, 500, 530, 520)]   # in, across a corner, tiny
    gray, colour = crop_faces(bgr, boxes, CropSpec()), crop_faces(bgr, boxes, CropSpec(color=True))
    assert gray.shape == (3, 64, 64) and colour.shape == (3, 64, 64, 3)
    # The same square, cut and resized the same way: only the gray conversion moves.
    regrayed = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in colour])
    assert np.abs(regrayed.astype(int) - gray).max() <= 2
    assert CropSpec.from_dict(CropSpec(color=True).to_dict()).color
    assert not CropSpec.from_dict({"size": 64, "margin": 0, "clahe": False}).color   # older files
    # A gray image asked for colour crops gives three equal channels.
    g = crop_faces(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), boxes[:1], CropSpec(color=True))
    assert g.shape == (1, 64, 64, 3) and (g[..., 0] == g[..., 2]).all()
    copies = augmented_crops(bgr, boxes[0], CropSpec(color=True), Augment(), np.random.default_rng(0), 4)
    assert copies.shape == (4, 64, 64, 3) and copies.std() > 10


def test_min_face_sets_the_search_scale(photos):
    """24-px faces cost an enlarged search, asked for; big-faces-only searches run shrunk."""
    import cv2

    from maskhog.pipeline import MaskDetector

    small = cv2.resize(photos["astronaut"], None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    assert MaskDetector(second_look=False).detect(small) == []   # her face is 33 px: under the 41-px window
    (face,) = MaskDetector(min_face=24).detect(small)    # searched 41/24 = 1.7x larger
    x1, y1, x2, y2 = face.box
    assert 45 < x1 < 60 and 15 < y1 < 35 and 24 <= x2 - x1 < 45
    big_only = MaskDetector(min_face=200)
    assert big_only.search.search_scale() == pytest.approx(41 / 200)
    assert all(min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= 200
               for f in big_only.detect(cv2.resize(photos["astronaut"], None, fx=3, fy=3)))


def test_a_face_that_fills_the_image_is_found_on_a_second_look():
    import cv2

    from maskhog.io.demo import demo_images
    from maskhog.pipeline import MaskDetector

    from maskhog.detect import MaskHog

    (_, _), (_, masked) = demo_images()
    tight = np.ascontiguousarray(masked[75:185, 170:280])   # 110x110: her masked face, edge to edge
    finder = MaskDetector(hog_detector())   # the classical path: YuNet finds her at the first look
    assert finder.detector.detect(tight) == []              # no room for the detector's window
    (face,) = finder.find_faces(tight)
    x1, y1, x2, y2 = face.box
    assert 0 <= x1 < x2 <= 110 and 0 <= y1 < y2 <= 110 and x2 - x1 >= 80   # in the image's pixels
    (result,) = finder.detect(tight)
    assert result.label == "with_mask"
    # A large close-up is shrunk for the second look; its box comes back in its own pixels.
    big = cv2.resize(tight, (900, 900))
    assert finder.detector.detect(big) == []
    (face,) = finder.find_faces(big)
    assert face.box[2] - face.box[0] >= 650 and max(face.box) <= 900
    # The live loop does without it (an empty scene would pay for it on every detection).
    assert MaskDetector(finder.detector, finder.model, second_look=False).find_faces(big) == []
    # dlib's pose templates find the large close-up at the first look.
    assert MaskHog(pose=True).detect(big)


def test_a_small_photo_is_searched_enlarged_when_the_other_looks_find_nothing(monkeypatch):
    """A 100-px thumbnail of a whole person: her face is about 20 px, under the detector's window."""
    import cv2
    from skimage import data

    from maskhog import tuning
    from maskhog.boxes import iou as box_iou
    from maskhog.pipeline import MaskDetector

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    finder = MaskDetector(hog_detector())   # the classical path: YuNet sees her 20-px face
    (full,) = finder.find_faces(photo)
    thumb = cv2.resize(photo, (100, 100), interpolation=cv2.INTER_AREA)
    assert MaskDetector(finder.detector, finder.model, second_look=False).find_faces(thumb) == []
    (result,) = finder.detect(thumb)   # searched at 300x300, its box in the thumbnail's pixels
    assert box_iou(result.box, [v * 100 / 512 for v in full.box]) >= 0.5
    assert result.label == "without_mask"
    # Only small photos are enlarged: with the limit set under 100 px, nothing is found.
    monkeypatch.setattr(tuning, "ENLARGE", (100, 300))
    assert finder.find_faces(thumb) == []


def test_the_looks_are_tried_in_turn_until_a_face_is_found(monkeypatch):
    from maskhog import tuning
    from maskhog.io.demo import demo_images
    from maskhog.pipeline import MaskDetector

    (_, _), (_, masked) = demo_images()
    tight = np.ascontiguousarray(masked[75:185, 170:280])
    finder = MaskDetector(hog_detector(), looks_pose=False)   # dlib's pose templates would find her unframed
    calls = []
    search = finder.search.search
    monkeypatch.setattr(finder.search, "search",
                        lambda image, f, border=0, **kw: calls.append(border) or search(image, f, border, **kw))
    # A look without a border finds nothing in a tight crop; the next one, framed, does.
    monkeypatch.setattr(tuning, "LOOKS", ((400, 0.0), (200, 0.6), (100, 0.6)))
    (face,) = finder.find_faces(tight)
    assert calls == [0, 0, 66] and face.box[2] - face.box[0] >= 80

