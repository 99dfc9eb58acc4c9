"""The proposal network beside the fHOG templates: what it proposes, its file, its training."""

import json

import cv2
import numpy as np
import pytest

from maskhog import tuning
from skimage import data

from maskhog.boxes import iou as box_iou
from maskhog.detect import MaskHog, hog_detector
from maskhog.modelfiles import ModelError
from maskhog.detect.proposals import PROPOSAL_FILE, ProposalNet, nms, pyramid_scales

HER_FACE = (174, 74, 273, 174)   # the astronaut's face in scikit-image's 512-px photo
MODELS = hog_detector().folder


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="module")
def shipped():
    return ProposalNet(MODELS / PROPOSAL_FILE)


def test_the_shipped_network_proposes_her_face_at_most_sizes_and_little_background(astronaut, shipped):
    """It learned small scene faces: a large, sharp one is proposed at some sizes and not at
    others (the pyramid's steps are 0.7 apart); the templates find those."""
    assert shipped.threshold == 2.5 and shipped.min_face == 41
    found = 0
    for side in range(288, 609, 32):                     # her face: 56 to 119 px
        photo = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
        boxes, logits = shipped.propose(photo)
        assert (logits >= shipped.threshold).all() and list(logits) == sorted(logits, reverse=True)
        assert len(boxes) <= 10
        found += max((box_iou(b, np.array(HER_FACE) * side / 512) for b in boxes), default=0) >= 0.4
    assert found >= 5                                    # 7 of the 11 sizes on 2026-11-28
    # A plain wall has no face: nothing comes near the threshold.
    assert len(shipped.propose(np.full((480, 640, 3), 150, np.uint8))[0]) == 0


def test_smaller_faces_cost_more_levels(astronaut, shipped):
    """The pyramid starts where a min_face-px face fills the 16-px window."""
    assert pyramid_scales(480, 640, 16, 41, 0.7)[0] == pytest.approx(16 / 41)
    assert len(pyramid_scales(480, 640, 16, 24, 0.7)) > len(pyramid_scales(480, 640, 16, 41, 0.7))
    tiny = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)    # her face: 31 px
    boxes, _ = shipped.propose(tiny, threshold=0.0, min_face=24)
    assert max(box_iou(b, np.array(HER_FACE) * 160 / 512) for b in boxes) >= 0.4


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], float)
    assert list(nms(boxes, np.array([0.5, 0.9, 0.1, 0.3]))) == [1, 2]
    assert list(nms(np.zeros((0, 4)), np.zeros(0))) == []


def test_the_detector_adds_the_networks_boxes_where_no_template_box_is(astronaut):
    detector = hog_detector()
    assert detector.proposals is not None
    low = detector.verifier.candidate_threshold
    templates = detector.template_faces(astronaut, low, network=True)
    both = detector.propose(astronaut, low)
    added = both[len(templates):]
    assert both[:len(templates)] == templates
    assert all(f.score == tuning.NETWORK_SCORE for f in added)
    assert all(box_iou(a.box, t.box) < tuning.NETWORK_IOU for a in added for t in templates)
    # Her face is found and judged a face.
    assert any(box_iou(f.box, HER_FACE) >= 0.5 for f in detector.detect(astronaut))
    # Without colour (the network's input) and without the verifier: both templates, as before.
    before = hog_detector(proposals=False)
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    assert detector.propose(gray, low) == before.propose(gray, low)
    assert detector.detect(gray) == before.detect(gray)
    assert detector.detect(astronaut, verify=False) == before.detect(astronaut, verify=False)


def test_the_pasted_face_template_moves_to_the_later_looks():
    """The network stands in for it at the first look; close-ups still get it."""
    detector, without = hog_detector(), hog_detector(proposals=False)
    assert detector.templates_scanned() == MaskHog.TEMPLATES[:1]
    assert detector.templates_scanned(network=False) == MaskHog.TEMPLATES
    assert detector.with_pose().templates_scanned() == MaskHog.TEMPLATES
    assert without.proposals is None and without.templates_scanned() == MaskHog.TEMPLATES
    # The linear verifier never learned the network's boxes: it gets the templates alone.
    linear = hog_detector(verifier="linear")
    assert linear.proposals is None and linear.templates_scanned() == MaskHog.TEMPLATES


def test_huge_colour_photo_is_searched_shrunk_with_boxes_in_its_own_pixels(astronaut):
    detector = hog_detector()
    big = np.full((5000, 5000, 3), 128, np.uint8)        # shrunk to 4096 px: her face then 72 px
    big[2000:2448, 2000:2448] = cv2.resize(astronaut, (448, 448), interpolation=cv2.INTER_AREA)
    boxes = [f.box for f in detector.network_faces(big, [])]
    assert max(box_iou(b, np.array(HER_FACE) * 448 / 512 + 2000) for b in boxes) >= 0.5


def test_files_that_are_not_proposal_networks_are_refused(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "text.onnx"
    text.write_text("not a network")
    for path, reason in ((empty, "the file is empty"), (text, "not a valid ONNX graph"),
                         (MODELS / "face_verifier.onnx", "not a maskhog proposal network"),
                         (tmp_path / "missing.onnx", "cannot read")):
        with pytest.raises(ModelError, match=reason):
            ProposalNet(path)
    # A weight changed after training no longer matches the header's SHA-256.
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(MODELS / PROPOSAL_FILE))
    weight = model.graph.initializer[0]
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))
    edited = tmp_path / "edited.onnx"
    onnx.save(model, str(edited))
    with pytest.raises(ModelError, match="SHA-256"):
        ProposalNet(edited)


def test_training_writes_a_network_that_opencv_runs_as_torch_does(astronaut, tmp_path):
    torch = pytest.importorskip("torch")
    from maskhog.training.proposal_net import (SETTINGS, export, proposal_network, torch_proposals,
                                                train_proposals, windows)

    # The exported graph (pixel scaling inside) gives torch's numbers through OpenCV DNN.
    torch.manual_seed(0)
    net = proposal_network(SETTINGS["channels"]).eval()
    export(net, tmp_path / PROPOSAL_FILE, {"window": 16, "stride": 4, "threshold": 0.0, "min_face": 41})
    ours = ProposalNet(tmp_path / PROPOSAL_FILE)
    level = cv2.resize(astronaut, (203, 197))
    with torch.no_grad():
        expected = net((torch.from_numpy(level).permute(2, 0, 1)[None].float() - 127.5) / 128.0)[0].numpy()
    np.testing.assert_allclose(ours.maps(level), expected, atol=1e-4)
    boxes, logits = ours.propose(astronaut, threshold=-1.0)
    torch_boxes, torch_logits = torch_proposals(net, astronaut, -1.0, 41, top_k=len(boxes))
    np.testing.assert_allclose(np.sort(logits), np.sort(torch_logits), atol=1e-4)

    # Training on photos of her: windows of each kind, then a network that proposes her face.
    photo = tmp_path / "her.png"
    cv2.imwrite(str(photo), astronaut)
    photos = {str(photo): [("without_mask", HER_FACE)]}
    x, kind, offsets = windows(photos)
    assert x.shape[1:] == (16, 16, 3) and set(kind) == {0, 1, 2}
    # A face window holds most of her box: its corners are within a third of the window.
    assert np.abs(offsets[kind == 1]).max() < 0.3 and not offsets[kind == 0].any()
    settings = {**SETTINGS, "epochs": 3, "hard_epochs": 3, "pos": 40, "part": 10}
    header = train_proposals(photos, tmp_path, settings=settings)
    trained = ProposalNet(tmp_path / PROPOSAL_FILE)
    assert trained.info["photos"] == 1 and header["windows"] == trained.info["windows"] > len(x)
    assert json.loads(json.dumps(trained.info))["settings"]["epochs"] == 3
    boxes, _ = trained.propose(astronaut, threshold=-5.0)
    assert max(box_iou(b, HER_FACE) for b in boxes) >= 0.4


def test_a_damaged_proposal_file_in_a_detector_folder_is_named(astronaut, tmp_path):
    import shutil

    from click.testing import CliRunner

    from maskhog.cli import main

    folder = tmp_path / "detector"
    shutil.copytree(MODELS, folder, ignore=shutil.ignore_patterns("default.npz", "cnn.onnx"))
    photo = tmp_path / "her.png"
    cv2.imwrite(str(photo), astronaut)
    result = CliRunner().invoke(main, ["detect", str(photo), "--templates", str(folder)])
    assert result.exit_code == 0 and json.loads(result.stdout)["faces"]
    (folder / PROPOSAL_FILE).write_bytes((folder / PROPOSAL_FILE).read_bytes()[:1000])   # cut short
    result = CliRunner().invoke(main, ["detect", str(photo), "--templates", str(folder)])
    assert result.exit_code == 1 and "face_proposals.onnx: not a valid ONNX graph" in result.output
