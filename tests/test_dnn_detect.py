"""Face detectors from model files (``--detector-model``), through OpenCV DNN."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from maskhog.cli import main
from maskhog.detect import make_detector
from maskhog.detect.dnn import DnnDetector

TINY_SSD = Path(__file__).with_name("data") / "tiny_ssd.prototxt"


def green_corner(h=480, w=640):
    """A blue frame whose bottom-right quarter is green: the tiny SSD's "faces"."""
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:] = (200, 100, 0)
    frame[h // 2:, w // 2:] = (0, 255, 0)
    return frame


def test_ssd_boxes_come_back_in_the_image_pixels():
    # 64x64 input, no mean: one 24-px prior per quadrant, and only the green one is a face.
    det = DnnDetector(TINY_SSD, size=(64, 64), scale=1 / 64, mean=(0, 0, 0))
    assert det.layout == "ssd" and det.backend in ("cpu", "opencl", "cuda")
    faces = det.detect(green_corner())
    assert len(faces) == 1 and faces[0].score > 0.95   # softmax(0, 255 / 64)
    # The prior's 24/64 of the image, centred in the bottom-right quadrant.
    np.testing.assert_allclose(faces[0].box, (360, 270, 600, 450), atol=1)
    # Another image size, and the same quadrant of it.
    faces = det.detect(green_corner(100, 200))
    np.testing.assert_allclose(faces[0].box, (112, 56, 188, 94), atol=1)


def test_ssd_defaults_gray_images_and_threshold():
    det = make_detector("dnn", model=TINY_SSD)   # res10's 300x300 input and mean
    assert det.smallest_face is None
    faces = det.detect(green_corner())
    assert len(faces) > 10
    assert all(f.box[0] >= 320 - 2 and f.box[1] >= 240 - 2 for f in faces)
    # Gray: green equals blue everywhere, so no cell is more face than background.
    gray = cv2.cvtColor(green_corner(), cv2.COLOR_BGR2GRAY)
    assert DnnDetector(TINY_SSD, threshold=0.9).detect(gray) == []
    strict = DnnDetector(TINY_SSD, size=(64, 64), scale=1 / 64, mean=(0, 0, 0), threshold=0.99)
    assert strict.detect(green_corner()) == []


def test_files_that_are_not_face_detectors_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no such model file"):
        DnnDetector(tmp_path / "missing.onnx")
    text = tmp_path / "notes.onnx"
    text.write_text("not a network")
    with pytest.raises(ValueError, match="notes.onnx: OpenCV cannot read"):
        DnnDetector(text)
    # maskhog's own mask CNN is a network, but its output is no face boxes.
    cnn = Path(__file__).parents[1] / "maskhog" / "models" / "cnn.onnx"
    with pytest.raises(ValueError, match="not an SSD DetectionOutput"):
        DnnDetector(cnn)
    with pytest.raises(ValueError, match="unknown layout"):
        DnnDetector(TINY_SSD, layout="yolo")


def test_cli_detect_with_a_model_file(tmp_path):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), green_corner())
    runner = CliRunner()
    result = runner.invoke(main, ["detect", str(image), "--detector-model", str(TINY_SSD)])
    assert result.exit_code == 0, result.output
    assert '"box": [' in result.output and result.output.count('"score"') > 10
    for bad in (["--detector", "dnn"], ["--detector", "dlib", "--detector-model", str(TINY_SSD)],
                ["--detector-model", str(TINY_SSD), "--upsample", "1"]):
        result = runner.invoke(main, ["detect", str(image), *bad])
        assert result.exit_code == 2 and "detector" in result.output.split("Error:")[1]
    result = runner.invoke(main, ["detect", str(image), "--detector-model", str(image)])
    assert result.exit_code == 1 and "OpenCV cannot read" in result.output


def test_aizoo_ssd_from_its_files(shared, tmp_path):
    from skimage import data

    folder = shared.parent / "models" / "aizoo-ssd"
    caffe = DnnDetector(folder / "face_mask_detection.caffemodel", folder / "face_mask_detection.prototxt")
    onnx = DnnDetector(folder / "face_mask_detection.onnx")
    assert caffe.layout == onnx.layout == "aizoo"
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    faces = caffe.detect(astronaut)
    assert len(faces) == 1 and faces[0].box[0] < 230 < faces[0].box[2] and faces[0].box[1] < 110 < faces[0].box[3]
    assert onnx.detect(astronaut) == faces
    # A download cut short is refused with the file's name.
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes((folder / "face_mask_detection.caffemodel").read_bytes()[:100_000])
    with pytest.raises(ValueError, match="cut.caffemodel"):
        DnnDetector(cut, folder / "face_mask_detection.prototxt")
