"""What a bug report needs, gathered in one place: versions, the compiled build, OpenCV DNN,
the shipped models and the camera.

:func:`diagnose` returns plain data (for ``maskhog doctor --json``); every check
catches its own failure and reports it, so one broken part never hides the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["diagnose", "camera", "probe_camera", "models", "compiled_build", "dnn_backends", "versions"]

#: Distributions whose versions a report names (import name, distribution name).
_PACKAGES = (("numpy", "numpy"), ("opencv", "opencv-contrib-python-headless"), ("dlib", "dlib-bin"),
             ("scikit-learn", "scikit-learn"), ("scikit-image", "scikit-image"), ("onnx", "onnx"),
             ("onnxruntime", "onnxruntime"), ("click", "click"), ("torch", "torch"))

# setup.py's flags, which the built module does not record: kept in step with it by a test.
BASELINE_FLAGS = "-O3 -fno-math-errno -fno-trapping-math -ffp-contract=off"
AVX2_FLAGS = BASELINE_FLAGS + " -mavx2 -mfma"


def versions() -> dict:
    """maskhog's, Python's and each dependency's version (``None``: not installed)."""
    from . import __version__

    found = {"maskhog": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for name, dist in _PACKAGES:
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[name] = None
    import cv2   # the wheel's name varies (headless, contrib): ask the module too

    found["opencv"] = cv2.__version__
    return found


def compiled_build() -> dict:
    """Which build of the feature kernels runs (:data:`maskhog.features.SIMD`) and why."""
    from . import features

    try:
        from . import _features_avx2
        avx2_file = _features_avx2.__file__
    except ImportError:
        avx2_file = None
    return {"runs": features.SIMD, "file": features._features.__file__,
            "flags": AVX2_FLAGS if features.SIMD == "avx2" else BASELINE_FLAGS,
            "cpu_has_avx2_fma": features._cpu_has_avx2(), "avx2_build_installed": avx2_file is not None,
            "MASKHOG_SIMD": os.environ.get("MASKHOG_SIMD")}


def dnn_backends() -> dict:
    """OpenCV DNN's usable backend/target pairs by name, and the one maskhog picks.

    ``cv2.dnn.getAvailableBackends()`` where the bindings have it; OpenCV 4.x's Python
    bindings often do not, and then each backend is asked for its targets.
    """
    import cv2

    from .modelfiles import pick_backend

    dnn = cv2.dnn
    backends = {getattr(dnn, k): k[len("DNN_BACKEND_"):].lower() for k in dir(dnn)
                if k.startswith("DNN_BACKEND_") and k != "DNN_BACKEND_DEFAULT"}
    targets = {getattr(dnn, k): k[len("DNN_TARGET_"):].lower() for k in dir(dnn) if k.startswith("DNN_TARGET_")}
    if hasattr(dnn, "getAvailableBackends"):
        pairs = list(dnn.getAvailableBackends())
    else:
        pairs = [(b, t) for b in sorted(backends) for t in dnn.getAvailableTargets(b)]
    return {"available": [f"{backends.get(b, b)}/{targets.get(t, t)}" for b, t in pairs],
            "maskhog_uses": pick_backend("auto")[2], "opencl": bool(cv2.ocl.haveOpenCL())}


def _loader(name: str):
    """The function that loads a shipped model file the way maskhog does (checks included)."""
    from .classify import CnnClassifier, MaskClassifier
    from .detect.proposals import ProposalNet
    from .detect.convention import load_rules
    from .detect.verify import CnnFaceVerifier, FaceVerifier
    from .detect.yunet import YuNet

    if name.endswith(".svm"):
        import dlib

        return lambda p: dlib.fhog_object_detector(str(p))

    return {"default.npz": MaskClassifier.load, "cnn.onnx": CnnClassifier, "face_proposals.onnx": ProposalNet,
            "face_verifier.npz": FaceVerifier.load, "face_verifier.onnx": CnnFaceVerifier,
            "face_yunet_n.onnx": YuNet, "box_convention.json": lambda p: load_rules(p.parent),
            "face_yunet.json": lambda p: json.loads(p.read_text())}.get(name)


def models(folder=None) -> list[dict]:
    """Each shipped model file: path, size, sha256, and whether it loads (else why not)."""
    folder = Path(folder) if folder else Path(__file__).parent / "models"
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        record = {"name": path.name, "path": str(path), "bytes": path.stat().st_size,
                  "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        load = _loader(path.name)
        if path.suffix in (".LICENSE", ".NOTICE"):
            record["loads"] = None   # a model's licence or origin, shipped beside it
        elif load is None:
            record["loads"], record["error"] = None, "not a file maskhog loads"
        else:
            try:
                load(path)
                record["loads"] = True
            except Exception as exc:   # a report, not a crash: say what failed and go on
                record["loads"], record["error"] = False, f"{type(exc).__name__}: {exc}"
        found.append(record)
    return found


_PROBE = ("import cv2, sys; c = cv2.VideoCapture(int(sys.argv[1])); ok = c.isOpened() and c.read()[0]; "
          "print('open' if ok else 'closed'); c.release()")


def camera(index: int = 0, timeout: float = 5.0) -> dict:
    """Whether camera ``index`` opens and gives a frame. ``opens`` False with ``no camera``
    is the normal answer on a server."""
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        return {"index": index, "opens": False, "detail": f"no camera (no /dev/video{index})"}
    return {"index": index, **probe_camera(index, timeout)}


def probe_camera(index: int, timeout: float, code: str = _PROBE) -> dict:
    """Run ``code`` (OpenCV opening camera ``index``) in a child process killed after
    ``timeout`` seconds: some drivers block for ever on a device that does not answer."""
    try:
        done = subprocess.run([sys.executable, "-c", code, str(index)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"opens": False, "detail": f"no answer in {timeout:g} s"}
    opened = done.stdout.strip() == "open"
    return {"opens": opened, "detail": "gives frames" if opened else "no camera (it does not open)"}


def diagnose(*, camera_index: int = 0, camera_timeout: float = 5.0) -> dict:
    """Everything above, by section."""
    report = {}
    for key, check in (("versions", versions), ("features", compiled_build), ("dnn", dnn_backends),
                       ("models", models),
                       ("camera", lambda: camera(camera_index, camera_timeout))):
        try:
            report[key] = check()
        except Exception as exc:   # one broken part must not hide the rest of the report
            report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return report
