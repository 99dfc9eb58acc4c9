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


# ---------------------------------------------------------------- model files --

def _npz_with_member(path, name, shape, data=b"\0" * 64):
    """A zip whose ``name`` member's .npy header claims ``shape`` uint8 but holds ``data``."""
    import io
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, head.getvalue() + data)


def test_an_npz_member_claiming_gigabytes_is_refused_before_allocating(tmp_path):
    import resource

    from maskhog.classify.linear import MaskClassifier
    from maskhog.modelfiles import ModelError

    path = tmp_path / "bomb.npz"
    _npz_with_member(path, "header.npy", (3_000_000_000,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match="bomb.npz: member 'header.npy'"):
        MaskClassifier.load(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # KB


def test_random_bytes_are_not_advised_to_be_unpickled(tmp_path):
    from maskhog.classify.linear import MaskClassifier
    from maskhog.modelfiles import ModelError

    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="not an .npz archive") as err:
        MaskClassifier.load(path)
    assert "pickle" not in str(err.value)


@pytest.mark.parametrize("edit", [{"crop": {"size": 30000, "margin": 0.1, "clahe": False, "color": True}},
                                  {"features": {"color": {"skin_cell": 8, "chroma_grid": 10**6}}},
                                  {"features": {"orientations": 10**9}}])
def test_header_fields_outside_any_model_are_refused(tmp_path, edit):
    # The checksums cover the arrays, not the header: a valid-looking file with a forged
    # crop size or feature setting once gave a MemoryError traceback.
    import json

    from maskhog.classify.linear import MaskClassifier, default_model_path
    from maskhog.modelfiles import ModelError, save_npz

    with np.load(default_model_path()) as npz:
        header = json.loads(bytes(npz["header"]).decode())
        arrays = {k: npz[k] for k in npz.files if k != "header"}
    path = tmp_path / "forged.npz"
    save_npz(path, {**{k: v for k, v in header.items() if k != "sha256"}, **edit}, arrays)
    with pytest.raises(ModelError, match="forged.npz: .*(crop size|feature setting)"):
        MaskClassifier.load(path)


def _foreign_cnn(path, node):
    """A maskhog CNN header (valid checksum) on a graph that is not a mask classifier."""
    import onnx
    from onnx import TensorProto, helper

    from maskhog.classify.cnn import save_cnn

    x = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", 3, 64, 64])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", "k"])
    inits = [helper.make_tensor("shape", TensorProto.INT64, [2], [7, 5])]
    graph = helper.make_graph([node], "foreign", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save_cnn(model, path, {"classes": ["with_mask", "without_mask", "incorrect_mask"],
                           "crop": {"size": 64, "margin": 0.1, "clahe": False, "color": True},
                           "input": {"size": 64, "channels": 3}})
    onnx.checker.check_model(onnx.load(str(path)))


@pytest.mark.parametrize("node", ["Flatten", "Reshape"])
def test_a_foreign_onnx_graph_with_a_forged_header_is_refused_at_load(tmp_path, node):
    from onnx import helper

    from maskhog.classify.cnn import CnnClassifier
    from maskhog.modelfiles import ModelError

    nodes = {"Flatten": helper.make_node("Flatten", ["crops"], ["scores"]),
             "Reshape": helper.make_node("Reshape", ["crops", "shape"], ["scores"])}
    path = tmp_path / "foreign.onnx"
    _foreign_cnn(path, nodes[node])
    with pytest.raises(ModelError, match="foreign.onnx"):
        CnnClassifier(path)
