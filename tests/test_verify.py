"""The face verifier behind maskhog's detector: what it keeps, its file, its training."""

import cv2
import numpy as np
import pytest
from skimage import data

from maskhog import tuning
from maskhog.crops import crop_faces
from maskhog.boxes import Face, iou as box_iou
from maskhog.detect import MaskHog, hog_detector
from maskhog.training.metrics import match_faces
from maskhog.modelfiles import ModelError
from maskhog.pipeline import MaskDetector
from maskhog.detect.verify import CNN_VERIFIER_FILE, VERIFIER_FILE, CnnFaceVerifier, FaceVerifier

HER_FACE = (174, 74, 273, 174)   # the astronaut's face in scikit-image's 512-px photo


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="module")
def shipped():
    return hog_detector()


def test_the_shipped_detector_has_a_verifier_that_keeps_her_face_and_drops_background(astronaut, shipped):
    assert shipped.verifier is not None and shipped.verifier.candidate_threshold < shipped.threshold
    proposals = shipped.propose(astronaut, shipped.verifier.candidate_threshold)
    found = shipped.detect(astronaut)
    # Many proposals at the low threshold; the verifier keeps her face and little else.
    assert len(proposals) > len(found) >= 1
    assert any(box_iou(f.box, HER_FACE) >= 0.4 for f in found)
    assert all(any(f.box == p.box for p in proposals) for f in found)


def test_without_colour_the_templates_decide_alone(astronaut, shipped):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    alone = hog_detector(verifier=False)
    # A gray frame, and the same frame in three equal channels: the templates' own verdicts.
    assert [f.box for f in shipped.detect(gray)] == [f.box for f in alone.detect(gray)]
    three = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    assert [f.box for f in shipped.detect(three)] == [f.box for f in alone.detect(three)]
    assert any(box_iou(f.box, HER_FACE) >= 0.4 for f in shipped.detect(three))
    # BGRA is read as colour.
    bgra = cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA)
    assert [f.box for f in shipped.detect(bgra)] == [f.box for f in shipped.detect(astronaut)]


def tilted_astronaut(astronaut):
    """The photo turned by 35 degrees about its centre, and a test for a box on her face."""
    turn = cv2.getRotationMatrix2D((256, 256), -35, 1.0)
    tilted = cv2.warpAffine(astronaut, turn, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    cx, cy = turn @ [(HER_FACE[0] + HER_FACE[2]) / 2, (HER_FACE[1] + HER_FACE[3]) / 2, 1]

    def on_her(box):
        x1, y1, x2, y2 = box
        return x1 <= cx <= x2 and y1 <= cy <= y2 and 60 <= x2 - x1 <= 140

    return tilted, on_her


def test_dlibs_pose_templates_find_a_tilted_head_that_ours_miss(astronaut, shipped):
    import dlib

    # Our two templates learned mostly upright faces and find nothing on her tilted
    # head; dlib's tilted-face templates, scanned beside them, do, and the verifier keeps it.
    tilted, on_her = tilted_astronaut(astronaut)
    assert not shipped.pose and not any(on_her(f.box) for f in shipped.detect(tilted))
    posed = hog_detector(pose=True)
    assert any(on_her(f.box) for f in posed.detect(tilted))
    # Upright, both find her, and our box wins the merge (the crop the classifier learned).
    assert [f.box for f in posed.detect(astronaut)] == [f.box for f in shipped.detect(astronaut)]
    # Their scores are shifted so that alone they keep dlib's own threshold (0).
    proposals = posed.propose(astronaut, -0.9)
    assert any(f.pose for f in proposals) and not any(f.pose for f in shipped.propose(astronaut, -0.9))
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    _, raw, _ = dlib.get_frontal_face_detector().run(gray, 0, -0.9 - tuning.POSE_SHIFT)
    shifted = sorted(round(s + tuning.POSE_SHIFT, 6) for s in raw)
    assert sorted(round(f.score, 6) for f in proposals if f.pose) == shifted


def test_the_framed_later_looks_ask_the_cnn_verifier_at_a_lower_threshold():
    from maskhog.io.demo import demo_images
    from maskhog.pipeline import MaskDetector
    from maskhog.tuning import LOOKS_FACE_PROBABILITY

    _, (_, masked) = demo_images()
    tight = np.ascontiguousarray(masked[75:185, 170:280])   # her masked face, edge to edge
    finder = MaskDetector(hog_detector())   # the classical path: YuNet finds her in the first look
    calls, probabilities = [], []
    real, keep = finder.detector.detect, finder.detector.verifier.keep
    finder.detector.detect = lambda image, **kw: calls.append((image.shape[0], kw)) or real(image, **kw)
    looks_detect = finder.looks_detector.detect   # the later looks: dlib's pose templates too
    assert finder.looks_detector.pose and finder.looks_detector.verifier is finder.detector.verifier
    finder.looks_detector.detect = lambda image, **kw: calls.append((image.shape[0], kw)) or looks_detect(image, **kw)
    finder.detector.verifier.keep = lambda *a: probabilities.append(a[3:]) or keep(*a)
    assert len(finder.find_faces(tight)) == 1
    # First look: the photo as it is, verified as usual; then framed in gray, the templates
    # at their own threshold, then the CNN verifier at the looks' face probability.
    assert calls[0] == (110, {}) and calls[1][0] > 110 and calls[1][1] == {"verify": False}
    assert probabilities == [(), (LOOKS_FACE_PROBABILITY,)]
    assert 0 < LOOKS_FACE_PROBABILITY < finder.detector.verifier.threshold   # lower than for scenes
    # A colour wheel: framed, the templates alone see a face in it; the CNN gives it a face
    # probability between 0.05 and 0.1, so a looks threshold of 0.2 turns it down.
    wheel = np.ascontiguousarray(data.colorwheel()[:, :, ::-1])
    alone = MaskDetector(hog_detector(verifier="linear"))   # the linear verifier stays out of the looks
    assert alone.find_faces(wheel) and not alone.search.search(wheel, 1.0)
    assert MaskDetector(looks_face_probability=0).find_faces(wheel)
    assert MaskDetector(looks_face_probability=0.2).find_faces(wheel) == []


def test_verifier_file_round_trip_and_refusals(astronaut, tmp_path):
    shipped = hog_detector(verifier="linear")
    v = shipped.verifier
    path = tmp_path / "v.npz"
    v.save(path)
    again = FaceVerifier.load(path)
    faces = shipped.propose(astronaut, v.candidate_threshold)
    assert np.allclose(again.decision_function(again.describe(astronaut, faces)),
                       v.decision_function(v.describe(astronaut, faces)))
    assert again.threshold == v.threshold and again.header["record"]["test"]["precision"] > 0.8
    with pytest.raises(ModelError, match="no such face verifier"):
        FaceVerifier.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ModelError, match="not a (readable )?maskhog face verifier"):
        FaceVerifier.load(tmp_path / "junk.npz")
    # Another maskhog model is not a verifier.
    from maskhog.classify import default_model_path
    with pytest.raises(ModelError, match="not a (readable )?maskhog face verifier"):
        FaceVerifier.load(default_model_path())
    # Edited weights fail their checksum.
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["coef"] = arrays["coef"] * 2
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ModelError, match="checksum"):
        FaceVerifier.load(tmp_path / "edited.npz")
    with pytest.raises(ValueError, match="finite weights"):
        FaceVerifier(v.coef[:-5], 0.0, 0.0, -0.9, crop=v.crop, features=v.features)


def test_match_faces_counts_small_faces_as_dont_care():
    truth = [("with_mask", 0, 0, 40, 40), ("without_mask", 100, 100, 140, 140), ("with_mask", 200, 200, 210, 210)]
    found = [Face((0, 0, 40, 40), 2.0), Face((2, 2, 42, 42), 1.0),   # a duplicate: false
             Face((200, 200, 210, 210), 1.0),                        # a 10-px face: neither
             Face((300, 300, 340, 340), 0.5)]                        # nothing there: false
    n, hit, false = match_faces(found, truth)
    assert n == {"with_mask": 1, "without_mask": 1} and hit == {"with_mask": 1} and false == 2


def test_threshold_search_counts_as_the_detection_figures_do():
    """The fast search gives, at every threshold, the figures of merging and matching afresh."""
    from collections import Counter

    from maskhog.training.metrics import detection_figures
    from maskhog.training.verifier import best_threshold, kept_faces, tallies
    from maskhog.labels import CLASSES

    # Two photos by hand: a box as close to two faces (the later one is its match), and a
    # higher-scored box of dlib's pose templates on our own box (ours goes first).
    rows = [{"faces": [Face((10, 0, 50, 40), 1.0)],
             "truth": [("with_mask", 0, 0, 40, 40), ("without_mask", 20, 0, 60, 40)]},
            {"faces": [Face((90, 90, 190, 190), 5.0, pose=True), Face((100, 100, 140, 140), 1.0)],
             "truth": [("with_mask", 100, 100, 140, 140)]}]
    values = [np.array([1.0]), np.array([1.0, 1.0])]
    rng = np.random.default_rng(0)
    for photo in range(40):
        truth = []
        for _ in range(int(rng.integers(0, 5))):
            x, y, side = *rng.integers(0, 400, 2), int(rng.integers(12, 90))
            truth.append((str(rng.choice(CLASSES)), int(x), int(y), int(x + side), int(y + side)))
        faces, near = [], []
        for _, *box in truth:   # proposals near each face: shifted, resized, some twice
            for _ in range(int(rng.integers(0, 4))):
                side = box[2] - box[0]
                d = rng.normal(0, 0.2 * side, 4)
                faces.append(Face(tuple((np.array(box) + d) / 1.5 * 1.5), float(rng.choice([-1.0, 0.0, 0.5])),
                                  pose=bool(rng.random() < 0.2)))
                near.append(1.0)
        for _ in range(int(rng.integers(0, 6))):   # and background
            x, y, side = *rng.integers(0, 400, 2), int(rng.integers(20, 80))
            faces.append(Face((int(x), int(y), int(x + side), int(y + side)), float(rng.normal())))
            near.append(0.0)
        rows.append({"faces": faces, "truth": truth})
        # Coarse values, so that many tie: the verifier ranks faces above background, roughly.
        values.append(rng.choice([-1.0, 0.0, 1.0], len(faces)) + 2 * np.array(near) * (rng.random(len(faces)) < 0.8))
    thresholds = np.unique(np.quantile(np.concatenate(values), np.linspace(0, 1, 401)))
    for row, v in zip(rows, values):
        hits, false = tallies(row, v, thresholds, 24)
        for t, hit, wrong in zip(thresholds, hits, false):
            (kept, truth), = kept_faces([row], [v], t)
            _, expected_hit, expected_false = match_faces(kept, truth, 24)
            assert (dict(zip(CLASSES, hit.tolist())), wrong) == (expected_hit | {c: 0 for c in CLASSES
                                                                  if c not in expected_hit}, expected_false)
    settings = {"min_side": 24, "min_precision": 0.5}
    best = None   # the search by its definition
    for t in thresholds:
        m = detection_figures(kept_faces(rows, values, t), 24)
        score = (m.get("recall_with_mask", 0) + m.get("recall_without_mask", 0)) / 2
        if m["precision"] >= 0.5 and (best is None or score > best[0]):
            best = (score, round(float(t), 6), m)
    assert best is not None and best_threshold(rows, values, settings) == best
    assert Counter(best[2]["faces"]) == sum((match_faces([], r["truth"])[0] for r in rows), Counter())


@pytest.fixture(scope="module")
def astronaut_voc(tmp_path_factory):
    """20 photos with the astronaut pasted among other photos, and a folder holding copies of
    the shipped templates (and nothing else) for verifiers to be trained into."""
    import shutil

    tmp_path = tmp_path_factory.mktemp("verifier")
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    others = [data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    for k in range(20):
        canvas = cv2.resize(np.ascontiguousarray(others[k % 3][:, :, ::-1]), (640, 480))
        side = int(rng.integers(200, 300))
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        canvas[y:y + side, x:x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        x1, y1, x2, y2 = (np.array(HER_FACE) * side / 512 + [x, y, x, y]).round().astype(int)
        cv2.imwrite(str(root / "images" / f"s{k}.jpg"), canvas)
        (root / "annotations" / f"s{k}.xml").write_text(
            f"<annotation><filename>s{k}.jpg</filename><size><width>640</width><height>480</height></size>"
            f"<object><name>without_mask</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
            f"<ymax>{y2}</ymax></bndbox></object></annotation>")
    folder = tmp_path / "templates"
    folder.mkdir()
    for name in MaskHog.TEMPLATES:
        shutil.copy(hog_detector().folder / name, folder / name)
    return root, folder


def test_train_detector_fits_a_verifier_that_the_detector_uses(astronaut_voc, tmp_path):
    """Shipped templates + a verifier fitted on photos of the astronaut among other photos."""
    import shutil

    from maskhog.training.verifier import train_verifier

    root, templates = astronaut_voc
    folder = tmp_path / "detector"
    shutil.copytree(templates, folder)
    settings = {"candidate_threshold": -0.9, "C": 0.001, "min_precision": 0.5, "min_side": 24}
    record = train_verifier([root], templates=folder, out=folder / VERIFIER_FILE, settings=settings,
                            log_fn=lambda m: None)
    assert record["photos"] == {"fit": 16, "test": 4}
    assert record["test"]["recall_without_mask"] >= 0.75 and record["test"]["precision"] >= 0.5
    mine = hog_detector(templates=folder)
    assert isinstance(mine.verifier, FaceVerifier) and mine.verifier.threshold == record["threshold"]
    image = cv2.imread(str(root / "images" / "s0.jpg"))
    assert len(mine.detect(image)) < len(mine.propose(image, -0.9))
    with pytest.raises(RuntimeError, match="no verifier threshold reaches precision"):
        train_verifier([root], templates=folder, out=tmp_path / "x.npz",
                       settings={**settings, "min_precision": 1.01}, log_fn=lambda m: None)


def test_train_cnn_verifier_writes_a_network_the_detector_prefers(astronaut_voc, her_faces, tmp_path):
    pytest.importorskip("torch")
    import shutil

    from maskhog.training.cnn_verifier import CNN_VERIFIER, train_cnn_verifier

    root, templates = astronaut_voc
    folder = tmp_path / "detector"
    shutil.copytree(templates, folder)
    settings = {**CNN_VERIFIER, "epochs": 8, "min_precision": 0.5, "closeups": 6}
    with pytest.raises(ValueError, match="give the face folders"):
        train_cnn_verifier([root], templates=folder, out=folder / CNN_VERIFIER_FILE, settings=settings)
    said = []
    record = train_cnn_verifier([root], templates=folder, out=folder / CNN_VERIFIER_FILE, settings=settings,
                                faces=her_faces, log_fn=said.append)
    assert any("detections in framed looks at 6 face photos" in m for m in said)
    assert record["photos"] == {"fit": 16, "held_out": 4, "test": 4} and len(record["epochs"]) == 8
    assert 0 < record["threshold"] < 1 and record["held_out_figures"]["precision"] >= 0.5
    mine = hog_detector(templates=folder)   # the CNN verifier where the folder has one
    assert isinstance(mine.verifier, CnnFaceVerifier) and mine.verifier.threshold == record["threshold"]
    assert mine.verifier.crop.size == 48 and mine.verifier.net.crop.size == 48
    image = cv2.imread(str(root / "images" / "s0.jpg"))
    kept = mine.detect(image)
    assert all(any(f.box == p.box for p in mine.propose(image, mine.verifier.candidate_threshold)) for f in kept)
    # The same folder asked for its linear verifier has none.
    with pytest.raises(ModelError, match="no such face verifier"):
        hog_detector(templates=folder, verifier="linear")


def test_train_detector_adds_yunet_with_a_convention_and_a_rule_fitted_on_the_photos(astronaut_voc, tmp_path):
    """YuNet's part of a trained folder: the network beside its licence, the box convention fitted on
    the training photos and the score rule chosen on the verifier's held-out photos, which the
    folder's detector then runs by."""
    import json
    import shutil

    from maskhog.detect.fhog import models_folder
    from maskhog.training.scenes import split_scenes
    from maskhog.training.yunet_rule import YUNET_FILES, YUNET_RULE, add_yunet

    root, templates = astronaut_voc
    folder = tmp_path / "detector"
    shutil.copytree(templates, folder)
    with pytest.raises(ValueError, match="needs the CNN face verifier"):
        add_yunet([root], folder, log_fn=lambda m: None)
    shutil.copy(models_folder() / CNN_VERIFIER_FILE, folder / CNN_VERIFIER_FILE)
    said = []
    strict = {**YUNET_RULE, "min_precision": 1.01, "fine_tune": False}
    assert add_yunet([root], folder, settings=strict, log_fn=said.append) is None
    assert "runs without YuNet" in said[-1] and not (folder / "face_yunet.json").exists()
    assert MaskHog(templates=folder).yunet is None

    record = add_yunet([root], folder, log_fn=said.append)
    # Fine-tuned on the training photos, YuNet finds no more of the validation faces than the
    # shipped network (all of them): the shipped one is kept, and says so.
    assert record["fine_tuning"]["chosen"] == "shipped" and record["network"] == "the shipped YuNet"
    assert set(record["fine_tuning"]["validation"]) == {"shipped", "epoch 1", "epoch 2"}
    assert all((folder / name).read_bytes() == (models_folder() / name).read_bytes() for name in YUNET_FILES)
    figures = record["yunet_rule"]["validation"]
    assert figures["faces"] == {"without_mask": 4} and figures["without_mask"] == 1.0 and figures["precision"] == 1.0
    rules = json.loads((folder / "box_convention.json").read_text())
    assert set(rules["rules"]) == {"templates", "yunet"} and rules["matched"]["yunet"] >= 10
    # As in the shipped rule (dy 0.15): the convention sits lower on the face than YuNet's boxes.
    assert rules["rules"]["yunet"]["dy"] > 0
    mine = MaskHog(templates=folder)
    assert mine.yunet is not None and (mine.yunet_weight, mine.yunet_threshold) == (
        record["yunet_weight"], record["yunet_threshold"])
    boxed, (_, _, test) = split_scenes([root], 0)
    for path in test:   # photos neither the verifier nor the rule saw: her face, and nothing else
        (label, box), = boxed[path]
        found = mine.detect(cv2.imread(path))
        assert len(found) == 1 and box_iou(found[0].box, box) >= 0.5, (path, found, box)


def test_fine_tuning_raises_yunets_score_of_masked_faces_it_has_not_seen(tmp_path):
    """Fine-tuned on 8 photos of her face with the drawn mask, YuNet scores the face higher on 4
    others; its graph stays node for node, and only the score and box heads' weights change."""
    import onnx
    from onnx import numpy_helper

    from maskhog.detect.convention import IDENTITY, load_rules
    from maskhog.detect.fhog import models_folder
    from maskhog.detect.yunet import YUNET_FILE, YuNet
    from maskhog.io.demo import demo_images
    from maskhog.training.yunet_finetune import fine_tune

    pytest.importorskip("torch")
    (_, _), (_, masked) = demo_images()
    others = [data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    photos, paths = {}, []
    for k in range(12):
        canvas = cv2.resize(np.ascontiguousarray(others[k % 3][:, :, ::-1]), (640, 480))
        side = int(rng.integers(150, 300))
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        canvas[y:y + side, x:x + side] = cv2.resize(masked, (side, side), interpolation=cv2.INTER_AREA)
        path = str(tmp_path / f"m{k}.jpg")
        cv2.imwrite(path, canvas)
        paths.append(path)
        photos[path] = [("with_mask", tuple(int(v) for v in (np.array(HER_FACE) * side / 512 + [x, y, x, y]).round()))]
    shipped = models_folder() / YUNET_FILE
    saved, record = fine_tune(shipped, paths[:8], photos, load_rules(models_folder())["yunet"], tmp_path / "work",
                              log_fn=lambda m: None)
    assert sorted(saved) == [1, 2] and record["positive_cells"] > 8

    def face_scores(network):
        yunet = YuNet(network, threshold=0.05, rule=IDENTITY)
        out = []
        for path in paths[8:]:
            boxes, scores = yunet.raw(cv2.imread(path))
            out.append(max([s for b, s in zip(boxes, scores) if box_iou(tuple(b), photos[path][0][1]) >= 0.4] or [0]))
        return np.array(out)

    before, after = face_scores(shipped), face_scores(saved[2])
    assert before.min() > 0.5 and (after > before).all(), (before, after)
    old, new = onnx.load(str(shipped)), onnx.load(str(saved[2]))
    assert [n.op_type for n in old.graph.node] == [n.op_type for n in new.graph.node]
    changed = {t.name for t, u in zip(old.graph.initializer, new.graph.initializer)
               if not np.array_equal(numpy_helper.to_array(t), numpy_helper.to_array(u))}
    assert changed and all(any(f"multi_level_{k}." in n for k in ("cls", "obj", "bbox")) for n in changed), changed


@pytest.fixture(scope="module")
def her_faces(tmp_path_factory):
    """Class folders of tight photos of her face, cut a little differently each time."""
    folder = tmp_path_factory.mktemp("her_faces")
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    x1, y1, x2, y2 = HER_FACE
    for label in ("with_mask", "without_mask"):
        (folder / label).mkdir()
        for k in range(5):
            d = 4 * k
            cv2.imwrite(str(folder / label / f"{k}.png"), photo[y1 - d:y2 + d, x1 - d:x2 + d])
    return folder


def test_closeups_teach_the_verifier_what_the_framed_looks_find(astronaut_voc, her_faces):
    """Tight photos of her face, shrunk and framed as the later looks frame them: a detection on
    the photo's own rectangle is a face; detections in face-free squares of the scenes are
    background; nothing on a face photo is called background."""
    from maskhog.training.cnn_verifier import closeup_rows
    from maskhog.crops import CropSpec
    from maskhog.training.scenes import split_scenes

    root, templates = astronaut_voc
    boxed, _ = split_scenes([root], 0)
    scenes = {p: [(label, *box) for label, box in faces] for p, faces in boxed.items()}
    rows = closeup_rows(her_faces, scenes, hog_detector(templates=templates, verifier=False).with_pose(),
                         CropSpec(48, 0.0, False, color=True), n=6, seed=0, face_iou=0.5)
    faces = [r for r in rows if r["iou"].max() >= 0.5]
    assert faces and all(len(r["X"]) == len(r["iou"]) and r["X"].shape[1:] == (48, 48, 3) for r in rows)
    assert all((r["iou"] >= 0.25).all() for r in faces)   # a face photo gives no background
    assert {bool(r["bare"].all()) for r in faces} == {True, False}   # unmasked ones marked
    background = [r for r in rows if r["iou"].max() < 0.25]   # from the face-free squares
    assert background and all(not r["bare"].any() for r in background)


def test_cnn_verifier_files_are_told_from_mask_classifiers(astronaut, tmp_path):
    from maskhog.classify import CnnClassifier, default_cnn_path
    from maskhog.detect.verify import load_verifier

    with pytest.raises(ModelError, match="not this kind of maskhog network"):
        CnnFaceVerifier(default_cnn_path())
    shipped = hog_detector().folder
    if (shipped / CNN_VERIFIER_FILE).is_file():
        with pytest.raises(ModelError, match="not this kind of maskhog network"):
            CnnClassifier(shipped / CNN_VERIFIER_FILE)
    (tmp_path / "none").mkdir()
    assert load_verifier(tmp_path / "none") is None
    with pytest.raises(ValueError, match="unknown verifier"):
        load_verifier(shipped, "svm")
    (tmp_path / CNN_VERIFIER_FILE).write_bytes(b"\x08\x07 not onnx")
    with pytest.raises(ModelError, match="not a valid ONNX graph"):
        hog_detector(templates=_with_templates(tmp_path), verifier="cnn")


def _with_verifier_settings(folder, **changes):
    """A copy of the shipped CNN verifier in ``folder`` whose header's ``verifier`` entry has
    ``changes`` (None: the key removed); the header lies outside the graph's checksum."""
    import json

    import onnx

    from maskhog.modelfiles import HEADER_KEY

    model = onnx.load(str(hog_detector().folder / CNN_VERIFIER_FILE))
    prop = next(p for p in model.metadata_props if p.key == HEADER_KEY)
    header = json.loads(prop.value)
    header["verifier"].update(changes)
    header["verifier"] = {k: v for k, v in header["verifier"].items() if v is not None}
    prop.value = json.dumps(header)
    onnx.save(model, str(folder / CNN_VERIFIER_FILE))
    return folder / CNN_VERIFIER_FILE


def test_the_cnn_verifier_keeps_proposals_by_its_score_rule(astronaut, shipped, tmp_path):
    proposals = shipped.propose(astronaut, shipped.verifier.candidate_threshold)
    crops = crop_faces(astronaut, [f.box for f in proposals], shipped.verifier.crop)
    template = np.array([f.score for f in proposals])
    alone = CnnFaceVerifier(_with_verifier_settings(tmp_path, score=None))   # a file without a rule
    p = alone.net.classify_crops(crops)[:, 1]
    odds = np.log(p / (1 - p))
    assert not alone.mirror and alone.template_weight == 0
    assert np.allclose(alone.face_scores(crops, template), odds)
    assert np.isclose(alone.score_threshold, np.log(alone.threshold / (1 - alone.threshold)))
    kept = alone.keep(astronaut, proposals, shipped.threshold)
    assert kept == [f for f, q in zip(proposals, p) if q >= alone.threshold] and 0 < len(kept) < len(proposals)
    # The mirror image's odds are averaged in where they could turn the verdict: there a
    # crop and its mirror image score the same.
    rule = {"mirror": True, "template_weight": 0.0, "threshold": 0.0}
    both = CnnFaceVerifier(_with_verifier_settings(tmp_path, score=rule))
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    q = both.net.classify_crops(mirrored)[:, 1]
    mirror_odds = np.log(q / (1 - q))
    near = np.abs(odds) <= tuning.MIRROR_BAND
    assert near.any() and not near.all() and not np.allclose(q, p)   # the network is not symmetric
    assert np.allclose(both.face_scores(crops, template), np.where(near, (odds + mirror_odds) / 2, odds))
    twice = near & (np.abs(mirror_odds) <= tuning.MIRROR_BAND)
    assert twice.any() and np.allclose(both.face_scores(mirrored, template)[twice],
                                       both.face_scores(crops, template)[twice])
    # Farther off, the mirror image could not have turned the verdict.
    assert np.all((np.abs(odds) > tuning.MIRROR_BAND) <= ((odds >= 0) == ((odds + mirror_odds) / 2 >= 0)))
    # The template's score is added at its weight; and the rule's threshold decides.
    weighted = CnnFaceVerifier(_with_verifier_settings(tmp_path, score={**rule, "template_weight": 2.0}))
    score = weighted.face_scores(crops, template)
    near = np.abs(odds + 2 * template) <= tuning.MIRROR_BAND
    assert np.allclose(score, np.where(near, (odds + mirror_odds) / 2, odds) + 2 * template)
    kept = weighted.keep(astronaut, proposals, shipped.threshold)
    assert kept == [f for f, z in zip(proposals, score) if z >= 0.0]
    # A threshold given (the later looks) is on the crop's own probability, whatever the rule.
    assert weighted.keep(astronaut, proposals, shipped.threshold, 0.5) == [f for f, q in zip(proposals, p) if q >= 0.5]
    with pytest.raises(ModelError, match="settings are not valid"):
        CnnFaceVerifier(_with_verifier_settings(tmp_path, score={**rule, "template_weight": "two"}))
    with pytest.raises(ModelError, match="settings are not valid"):
        CnnFaceVerifier(_with_verifier_settings(tmp_path, score={"mirror": True}))


def _with_templates(folder):
    import shutil

    for name in MaskHog.TEMPLATES:
        shutil.copy(hog_detector().folder / name, folder / name)
    return folder


def test_cli_picks_the_verifier(astronaut, tmp_path):
    import json

    from click.testing import CliRunner

    from maskhog.cli import main

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut)
    runner = CliRunner()
    boxes = {}
    for choice in ("auto", "cnn", "linear", "none"):
        result = runner.invoke(main, ["detect", str(image), "--detector", "hog", "--verifier", choice])
        assert result.exit_code == 0, result.output
        boxes[choice] = [f["box"] for f in json.loads(result.stdout)["faces"]]
        assert any(box_iou(b, HER_FACE) >= 0.4 for b in boxes[choice]), choice
    assert boxes["auto"] == boxes["cnn"]
    assert boxes["none"] == [list(f.box) for f in hog_detector(verifier=False).detect(astronaut)]
    result = runner.invoke(main, ["detect", str(image), "--detector", "dlib", "--verifier", "linear"])
    assert result.exit_code == 2 and "the dlib detector takes no option 'verifier'" in result.output


def test_cli_pose_switch(astronaut, tmp_path):
    import json

    from click.testing import CliRunner

    from maskhog.cli import main

    tilted, on_her = tilted_astronaut(astronaut)
    image = tmp_path / "tilted.png"
    cv2.imwrite(str(image), tilted)
    runner = CliRunner()
    found = {}
    for switch in ("--pose", "--no-pose", None):
        result = runner.invoke(main, ["detect", str(image), "--detector", "hog"] + ([switch] if switch else []))
        assert result.exit_code == 0, result.output
        found[switch] = [f["box"] for f in json.loads(result.stdout)["faces"] if on_her(f["box"])]
    # With --pose the first look finds her. Without, only a later look does: those scan
    # dlib's pose templates whatever the switch. Turned off, the proposal network still
    # proposes her there; without it too, they find nothing.
    assert found["--pose"] == [list(f.box) for f in MaskDetector(hog_detector(pose=True), second_look=False).find_faces(tilted)]
    assert found[None] == found["--no-pose"] and found[None] != found["--pose"] and len(found[None]) == 1
    assert MaskDetector(hog_detector(), second_look=False).find_faces(tilted) == []
    # YuNet, in the default detector, finds her tilted face in the first look.
    assert len(MaskDetector(second_look=False).find_faces(tilted)) == 1
    by_network = MaskDetector(hog_detector(), looks_pose=False).find_faces(tilted)
    assert len(by_network) == 1 and on_her(by_network[0].box) and by_network[0].score == tuning.NETWORK_SCORE
    assert MaskDetector(hog_detector(proposals=False), looks_pose=False).find_faces(tilted) == []
    result = runner.invoke(main, ["detect", str(image), "--detector", "haar", "--pose"])
    assert result.exit_code == 2 and "takes no option 'pose'" in result.output


def test_cnn_verifier_scores_all_rows_in_one_pass_as_row_by_row(astronaut):
    torch = pytest.importorskip("torch")
    from maskhog.training.cnn import build_network
    from maskhog.training.cnn_verifier import face_logits, row_scores
    from maskhog.crops import CropSpec, crop_faces

    torch.manual_seed(0)
    net = build_network(2, (16, 32, 64, 128), channels=3).eval()
    spec = CropSpec(64, 0.0, False, color=True)
    # Photos with 7, no and 1 proposals, as the held-out rows come: boxes over the astronaut photo.
    boxes = [(x, y, x + s, y + s) for x, y, s in [(170, 40, 150), (0, 0, 100), (300, 300, 200), (50, 200, 64),
                                                  (400, 10, 90), (120, 320, 120), (250, 150, 48), (180, 60, 120)]]
    rows = [{"X": crop_faces(astronaut, boxes[:7], spec)}, {"X": None}, {"X": crop_faces(astronaut, boxes[7:], spec)}]
    together = row_scores(net, rows)
    assert [len(s) for s in together] == [7, 0, 1]
    for row, score in zip(rows, together):
        alone = face_logits(net, row["X"]) if row["X"] is not None else np.zeros(0)
        np.testing.assert_array_equal(score, alone)
    assert np.ptp(together[0]) > 0   # the crops differ, and so do their scores
    assert [len(s) for s in row_scores(net, [{"X": None}, {"X": None}])] == [0, 0]
