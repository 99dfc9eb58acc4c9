"""YuNet as a face proposer, and the one box convention every proposer's boxes follow."""

import numpy as np
import pytest
from skimage import data

from maskhog.boxes import Face, iou
from maskhog.detect import make_detector
from maskhog.detect.convention import BoxRule, fit_rule, load_rules
from maskhog.detect.fhog import models_folder
from maskhog.detect.yunet import YuNet
from maskhog.modelfiles import ModelError
from maskhog.training.metrics import match_faces, same_face

#: The astronaut's face in scikit-image's 512-px photo, framed brow to chin, ear to ear.
ASTRONAUT_FACE = (174, 74, 273, 174)


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def test_yunet_finds_the_astronaut_and_moves_its_box_onto_the_convention(astronaut):
    faces = YuNet().detect(astronaut)
    assert len(faces) == 1 and faces[0].score > 0.8
    own = YuNet(rule=BoxRule()).detect(astronaut)[0]
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.6
    # Its own box reaches up the forehead; the convention's is moved down to brow to chin.
    assert faces[0].box[1] > own.box[1] and faces[0].box[3] > own.box[3]


def test_every_proposer_frames_the_same_face_alike(astronaut):
    """The default detector's box (YuNet, judged by the verifier) and the classical one's
    (fHOG templates) agree once each follows the convention."""
    new, classical = make_detector("maskhog"), make_detector("hog")
    assert new.yunet is not None and classical.yunet is None
    (a,), (b,) = new.detect(astronaut), classical.detect(astronaut)
    assert iou(a.box, b.box) > 0.7 and iou(a.box, ASTRONAUT_FACE) > 0.6


def test_yunet_finds_nothing_in_a_plain_wall_and_reads_gray_images(astronaut):
    y = YuNet()
    assert y.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    gray = np.ascontiguousarray(astronaut.mean(axis=2).astype(np.uint8))
    assert len(y.detect(gray)) == 1


def test_a_file_that_is_not_yunet_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "face_yunet_n.onnx"
    bad.write_bytes(b"not a network")
    with pytest.raises(ModelError, match="face_yunet_n.onnx"):
        YuNet(bad)


@pytest.mark.parametrize("size", [(512, 512), (333, 451), (97, 130)])
def test_onnxruntime_gives_the_faces_opencv_gives(astronaut, size):
    """The default backend decodes YuNet's outputs itself; it must agree with OpenCV's
    FaceDetectorYN box for box, at sizes that are and are not multiples of 32 (padded)."""
    import cv2

    image = cv2.resize(astronaut, size[::-1], interpolation=cv2.INTER_AREA)
    ort, cv = YuNet(threshold=0.05), YuNet(threshold=0.05, backend="opencv")
    assert (ort.backend, cv.backend) == ("onnxruntime", "opencv")
    (boxes, scores), (cv_boxes, cv_scores) = ort.raw(image), cv.raw(image)
    assert len(boxes) == len(cv_boxes) >= 1
    np.testing.assert_allclose(boxes, cv_boxes, atol=0.05)
    np.testing.assert_allclose(scores, cv_scores, atol=1e-4)


def test_onnxruntime_agrees_with_opencv_on_scene_photos(shared):
    from maskhog.io import read_image

    ort, cv = YuNet(threshold=0.2), YuNet(threshold=0.2, backend="opencv")
    paths = sorted((shared / "scenes" / "images").iterdir())[::40]
    found = 0
    for path in paths:
        image = read_image(path)
        (boxes, scores), (cv_boxes, cv_scores) = ort.raw(image), cv.raw(image)
        assert len(boxes) == len(cv_boxes), path.name
        np.testing.assert_allclose(boxes, cv_boxes, atol=0.05)
        np.testing.assert_allclose(scores, cv_scores, atol=1e-4)
        found += len(boxes)
    assert found > 3 * len(paths)


def test_an_onnx_network_that_is_not_yunet_is_refused_with_its_name(tmp_path):
    # A valid ONNX graph (the proposal network) without YuNet's outputs.
    other = tmp_path / "face_yunet_n.onnx"
    other.write_bytes((models_folder() / "face_proposals.onnx").read_bytes())
    with pytest.raises(ModelError, match="face_yunet_n.onnx.*cls_8"):
        YuNet(other)
    with pytest.raises(ValueError, match="unknown YuNet backend"):
        YuNet(backend="tensorflow")


def test_a_rule_fitted_on_moved_boxes_moves_them_back():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 400, (50, 2))
    sides = rng.uniform(24, 200, (50, 1))
    truth = np.hstack([truth, truth + sides * [1.0, 1.2]])
    true_rule = BoxRule(dx=0.05, dy=-0.1, sx=1.1, sy=0.9)
    # Boxes found as a proposer that frames faces by another rule would frame them.
    inverse = BoxRule(dx=-0.05 / 1.1, dy=0.1 / 0.9, sx=1 / 1.1, sy=1 / 0.9)
    found = np.array([inverse.apply(b) for b in truth], float)
    rule = fit_rule(found, truth)
    assert rule.sx == pytest.approx(1.1, abs=0.02) and rule.sy == pytest.approx(0.9, abs=0.02)
    assert np.mean([iou(rule.apply(f), t) for f, t in zip(found, truth)]) > 0.95


def test_the_shipped_rules_are_the_ones_the_detector_uses():
    rules = load_rules(models_folder())
    assert set(rules) == {"templates", "network", "yunet"}
    # YuNet frames from the eyebrows up: its boxes move down onto the convention.
    assert rules["yunet"].dy > 0.05


def test_the_tolerant_match_finds_a_face_framed_eyes_to_mask():
    face = ("with_mask", 100, 100, 200, 200)
    half = Face((125, 115, 185, 165), 1.0)     # inside the face, 0.3 of its area
    assert iou(half.box, face[1:]) < 0.4
    assert match_faces([half], [face])[1]["with_mask"] == 0
    assert match_faces([half], [face], tolerant=True)[1]["with_mask"] == 1
    # A box three times the face is no match, even tolerant: sides within 2x.
    assert same_face((50, 50, 350, 350), face[1:], tolerant=True) == 0.0


def test_yunet_boxes_in_the_convention_frame_held_out_faces_better(shared):
    from maskhog.io import read_image
    from maskhog.training.scenes import split_scenes

    photos, (_, _, test) = split_scenes([shared / "scenes"])
    ours, own = YuNet(), YuNet(rule=BoxRule())
    better = []
    for path in test[:25]:
        image = read_image(path)
        for (_, box), (a, b) in ((t, pair) for t in photos[path] if min(t[1][2] - t[1][0], t[1][3] - t[1][1]) >= 48
                                 for pair in [(max((iou(f.box, t[1]) for f in ours.detect(image)), default=0),
                                               max((iou(f.box, t[1]) for f in own.detect(image)), default=0))]):
            if a > 0.3:
                better.append(a - b)
    assert len(better) > 20 and np.mean(better) > 0.03


def _folder_with_rule(tmp_path, **changes):
    """The shipped models, linked into ``tmp_path``, with ``face_yunet.json`` changed by ``changes``."""
    import json

    tmp_path.mkdir(parents=True, exist_ok=True)
    for path in models_folder().iterdir():
        if path.name != "face_yunet.json":
            (tmp_path / path.name).symlink_to(path)
    rule = json.loads((models_folder() / "face_yunet.json").read_text())
    (tmp_path / "face_yunet.json").write_text(json.dumps({**rule, **changes}))
    return tmp_path


def test_colourless_faces_stay_by_yunets_own_score_from_the_alone_threshold(astronaut, tmp_path):
    """A gray photo in three channels gives the verifier no colour to judge: YuNet's score
    decides there, from face_yunet.json's alone_threshold."""
    from maskhog.detect import MaskHog

    gray = np.repeat(astronaut.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    (score,) = YuNet().raw(gray)[1]
    assert 0.5 < score < 0.999
    lower = MaskHog(templates=_folder_with_rule(tmp_path / "a", alone_threshold=score - 0.05))
    higher = MaskHog(templates=_folder_with_rule(tmp_path / "b", alone_threshold=score + 0.0005))
    (found,) = lower.detect(gray)
    assert iou(found.box, ASTRONAUT_FACE) > 0.6
    assert higher.detect(gray) == []
    # In colour the verifier judges, whatever the alone threshold.
    assert len(higher.detect(astronaut)) == 1


def test_a_rule_without_a_yunet_score_as_alone_threshold_is_refused(tmp_path):
    from maskhog.detect import MaskHog

    with pytest.raises(ModelError, match="alone_threshold"):
        MaskHog(templates=_folder_with_rule(tmp_path, alone_threshold=3.0))


def test_yunets_boxes_are_judged_by_the_verifier_the_rule_names(astronaut, tmp_path):
    from maskhog.detect import MaskHog

    named = MaskHog(templates=_folder_with_rule(tmp_path / "a", yunet_verifier="face_verifier.onnx"))
    assert named.yunet_verifier is not named.verifier and named.yunet_verifier.path.name == "face_verifier.onnx"
    assert [f.box for f in named.detect(astronaut)] == [f.box for f in make_detector("maskhog").detect(astronaut)]
    with pytest.raises(ModelError, match="no_such_verifier.onnx"):
        MaskHog(templates=_folder_with_rule(tmp_path / "b", yunet_verifier="no_such_verifier.onnx"))


def _published_yunet(shared):
    """The YuNet network as its authors published it (../shared/models/yunet); skip without it."""
    path = shared.parent / "models" / "yunet" / "yunet_n_640_640.onnx"
    if not path.is_file():
        pytest.skip("the published YuNet (../shared/models/yunet) is not here")
    return path


def test_the_shipped_yunet_is_the_published_graph_with_fine_tuned_heads(shared):
    """train/detector_yunet_finetune.py changes the score and box heads' weights only: the
    graph OpenCV runs, its outputs and the landmark heads stay the published ones."""
    import onnx
    from onnx import numpy_helper

    published, shipped = (onnx.load(str(p)) for p in (_published_yunet(shared), models_folder() / "face_yunet_n.onnx"))
    nodes = lambda m: [(n.op_type, list(n.input), list(n.output)) for n in m.graph.node]  # noqa: E731
    assert nodes(shipped) == nodes(published)
    assert [o.name for o in shipped.graph.output] == [o.name for o in published.graph.output]
    a = {t.name: numpy_helper.to_array(t) for t in published.graph.initializer}
    b = {t.name: numpy_helper.to_array(t) for t in shipped.graph.initializer}
    assert a.keys() == b.keys()
    changed = {name for name in a if not np.array_equal(a[name], b[name])}
    heads = tuple(f"bbox_head.multi_level_{k}." for k in ("cls", "obj", "bbox"))
    assert changed and all(name.startswith(heads) for name in changed)


def test_the_fine_tuned_yunet_scores_held_out_masked_faces_higher(shared):
    """What it was fine-tuned for: on held-out scene photos, YuNet's best score on a masked
    face rises, and unmasked faces keep theirs."""
    from maskhog.io import read_image
    from maskhog.training.scenes import split_scenes

    photos, (_, _, test) = split_scenes([shared / "scenes"])
    tuned, published = YuNet(threshold=0.05), YuNet(_published_yunet(shared), threshold=0.05)
    scores = {"with_mask": [], "without_mask": []}
    for path in test[:20]:
        image = read_image(path)
        found = tuned.detect(image), published.detect(image)
        for label, box in photos[path]:
            if label in scores and min(box[2] - box[0], box[3] - box[1]) >= 24:
                scores[label].append([max((f.score for f in fs if iou(f.box, box) >= 0.4), default=0.0)
                                      for fs in found])
    masked, bare = np.array(scores["with_mask"]), np.array(scores["without_mask"])
    assert len(masked) > 30 and len(bare) > 3
    assert masked[:, 0].mean() > masked[:, 1].mean() + 0.04
    assert np.mean(masked[:, 0] > masked[:, 1]) > 0.8
    assert bare[:, 0].mean() > bare[:, 1].mean() - 0.02
