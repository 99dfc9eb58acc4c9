"""`maskhog doctor`: what it reports is what this installation is."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from maskhog import doctor, features
from maskhog.cli import main

MODELS = Path(features.__file__).parent / "models"


def test_json_report_names_this_installation():
    result = CliRunner().invoke(main, ["doctor", "--json", "--camera", "99"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    v = report["versions"]
    assert v["numpy"] == np.__version__ and v["opencv"] == cv2.__version__
    import onnxruntime   # what runs YuNet: a bug report must say which

    assert v["onnxruntime"] == onnxruntime.__version__
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["features"]["runs"] == features.SIMD
    assert report["features"]["file"] == features._features.__file__
    assert "opencv/cpu" in report["dnn"]["available"]
    shipped = sorted(p.name for p in MODELS.iterdir() if p.is_file())
    assert [m["name"] for m in report["models"]] == shipped
    for m in report["models"]:
        assert m["sha256"] == hashlib.sha256(Path(m["path"]).read_bytes()).hexdigest()
        # Every model loads; a licence or notice beside one is listed, not loaded.
        assert m["loads"] is (None if m["name"].endswith((".LICENSE", ".NOTICE")) else True), m
    assert report["camera"]["index"] == 99 and report["camera"]["opens"] is False


def test_text_report_has_every_section():
    result = CliRunner().invoke(main, ["doctor", "--camera", "99"])
    assert result.exit_code == 0, result.output
    for title in ("versions:", "compiled features:", "OpenCV DNN:", "models:", "camera:"):
        assert title in result.output
    assert re.search(r"default\.npz +sha256 [0-9a-f]{64} .* loads", result.output)
    assert re.search(rf"runs +{features.SIMD} ", result.output)


def test_the_forced_baseline_build_is_the_one_reported():
    out = subprocess.run([sys.executable, "-m", "maskhog", "doctor", "--json", "--camera", "99"],
                         capture_output=True, text=True, env={"MASKHOG_SIMD": "baseline", "PATH": "", "PYTHONSAFEPATH": "1"}, check=True)
    f = json.loads(out.stdout)["features"]
    assert f["runs"] == "baseline" and f["MASKHOG_SIMD"] == "baseline"
    assert Path(f["file"]).name.startswith("_features.") and "-mavx2" not in f["flags"]


def test_the_reported_flags_are_setup_pys():
    setup = (Path(__file__).parents[1] / "setup.py").read_text()
    flags = re.search(r'flags = (\[.*?\]) if gcc_like', setup).group(1)
    assert " ".join(eval(flags)) == doctor.BASELINE_FLAGS
    assert '["-mavx2", "-mfma"]' in setup and doctor.AVX2_FLAGS.endswith("-mavx2 -mfma")


def test_a_damaged_model_is_reported_and_fails_the_command(tmp_path):
    for path in MODELS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    data = (tmp_path / "cnn.onnx").read_bytes()
    (tmp_path / "cnn.onnx").write_bytes(data[: len(data) // 2])   # cut off in a download, say
    (tmp_path / "notes.txt").write_text("not a model")
    found = {m["name"]: m for m in doctor.models(tmp_path)}
    assert found["cnn.onnx"]["loads"] is False and "cnn.onnx" in found["cnn.onnx"]["error"]
    assert found["default.npz"]["loads"] is True and found["notes.txt"]["loads"] is None
    assert found["cnn.onnx"]["sha256"] == hashlib.sha256(data[: len(data) // 2]).hexdigest()


def test_a_camera_that_never_answers_does_not_hang():
    start = time.perf_counter()
    answer = doctor.probe_camera(0, 1.0, code="import time; time.sleep(30)")
    assert answer == {"opens": False, "detail": "no answer in 1 s"}
    assert time.perf_counter() - start < 5
    # OpenCV itself, asked for a camera this machine does not have: a plain no.
    assert doctor.probe_camera(63, 20.0)["opens"] is False
