"""The CNN second stage: a small ONNX network run by OpenCV DNN, and the cascade rule.

The linear SVM is fast and explainable; a small convolutional network is
more accurate on hard faces (dark or patterned masks, hands over the mouth,
tilted heads). :class:`Cascade` gives both: the SVM decides a face when its
calibrated confidence reaches a threshold, and only the faces it is unsure of
go to the CNN.

The CNN sees colour crops (the SVM's HOG and LBP features see gray ones):
mask colour is a strong cue that gray hides, and with it the CNN transfers
far better to photos from other sources (``train/measure_cnn.py``).

The CNN file is a plain ONNX graph (made by ``maskhog train-cnn``; PyTorch is
needed to train, never to predict). Its ``metadata_props`` hold a JSON
header under the key ``maskhog``: classes, crop rule, input size, the
SHA-256 of the graph, test figures and the cascade threshold chosen on
validation faces. A file that is not a valid ONNX graph, that was edited
after training, or whose input differs from its header is refused with a
clear message. ONNX is protobuf, not pickle: loading never runs code.

``cv2.dnn`` networks are not thread-safe, so each thread gets its own copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import numpy as np

from .crops import CropSpec
from .labels import CLASSES
from .model import ModelError, _sha256
from .perthread import PerThread

log = logging.getLogger("maskhog")

__all__ = ["CnnClassifier", "Cascade", "STAGES", "FORMAT", "default_cnn_path", "graph_sha256",
           "pick_backend", "open_net", "thread_net", "make_classifier", "read_onnx", "save_onnx"]

FORMAT = "maskhog-cnn"
FORMAT_VERSION = 1
HEADER_KEY = "maskhog"
INPUT_NAME = "crops"
#: Crops per forward pass when many are judged at once. Small batches are the fast ones on a
#: CPU: what a layer writes stays in the cache for the next. 4,096 crops took 1.3 s in blobs of
#: 64 and 2.6 s in one (cv2.dnn), with the same numbers; torch, 1.9 s against 5.5 s in batches
#: of 512 (maskhog.cnn_training).
BATCH = 64
#: The choices of ``--stage``.
STAGES = ("svm", "cnn", "cascade")


def to_blob(crops, dtype=np.float32) -> np.ndarray:
    """Crops as the network's float32 ``(N, C, H, W)`` input: gray ``(N, H, W)`` or BGR
    ``(N, H, W, 3)`` uint8 in. Pixels stay 0-255: the graph scales them itself. ``dtype``
    ``np.uint8`` keeps uint8 crops as they are, in a quarter of the memory."""
    crops = np.asarray(crops)
    blob = crops.transpose(0, 3, 1, 2) if crops.ndim == 4 else crops[:, None]
    return np.ascontiguousarray(blob, dtype=dtype)


def default_cnn_path() -> Path:
    """The CNN shipped inside the package."""
    return Path(__file__).with_name("models") / "cnn.onnx"


def graph_sha256(model) -> str:
    """SHA-256 of an ONNX model's graph (everything but the metadata that holds it)."""
    return hashlib.sha256(model.graph.SerializeToString(deterministic=True)).hexdigest()


def save_onnx(model, path, header: dict, fmt: str = FORMAT, version: int = FORMAT_VERSION) -> None:
    """Write an ONNX ``model`` with a maskhog ``header`` (plus format and graph SHA-256)."""
    import onnx

    header = {"format": fmt, "format_version": version, **header,
              "graph_sha256": graph_sha256(model)}
    del model.metadata_props[:]
    model.metadata_props.add(key=HEADER_KEY, value=json.dumps(header))
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))


def open_net(read, dnn, failure: str, error=ModelError):
    """The OpenCV DNN network ``read()`` gives, set to run on ``dnn`` (from :func:`pick_backend`);
    if OpenCV cannot read it, ``error`` says ``failure`` and OpenCV's reason."""
    import cv2

    try:
        net = read()
    except cv2.error as exc:
        raise error(f"{failure} ({str(exc).strip().splitlines()[-1]})") from None
    net.setPreferableBackend(dnn[0])
    net.setPreferableTarget(dnn[1])
    return net


def thread_net(owner, data: bytes, path) -> object:
    """``owner``'s OpenCV DNN network of the ONNX bytes ``data``, one per thread (in
    ``owner._local``, on ``owner._dnn``): OpenCV's networks are not thread-safe."""
    net = getattr(owner._local, "net", None)
    if net is None:
        import cv2

        net = owner._local.net = open_net(lambda: cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8)),
                                          owner._dnn, f"{path}: OpenCV cannot run this ONNX graph")
    return net


def pick_backend(backend: str = "auto") -> tuple[int, int, str]:
    """OpenCV DNN ``(backend, target, name)``: CUDA if built in and a device is present,
    else OpenCL if available, else the CPU (``backend`` forces one of these)."""
    import cv2

    dnn = cv2.dnn
    cuda = getattr(cv2, "cuda", None)
    has_cuda = cuda is not None and cuda.getCudaEnabledDeviceCount() > 0
    choices = {"cuda": (dnn.DNN_BACKEND_CUDA, dnn.DNN_TARGET_CUDA, "cuda"),
               "opencl": (dnn.DNN_BACKEND_OPENCV, dnn.DNN_TARGET_OPENCL, "opencl"),
               "cpu": (dnn.DNN_BACKEND_OPENCV, dnn.DNN_TARGET_CPU, "cpu")}
    if backend == "auto":
        backend = "cuda" if has_cuda else "opencl" if cv2.ocl.haveOpenCL() else "cpu"
    if backend not in choices:
        raise ValueError(f"unknown DNN backend {backend!r}: use auto, cuda, opencl or cpu")
    if backend == "cuda" and not has_cuda:
        raise ValueError("the CUDA backend needs an OpenCV built with CUDA and a CUDA device")
    return choices[backend]


class CnnClassifier(PerThread):
    """A face-crop CNN in an ONNX file, run with OpenCV DNN.

    Parameters
    ----------
    path : path
        An ONNX file written by ``maskhog train-cnn``.
    backend : {"auto", "cuda", "opencl", "cpu"}
        Where OpenCV runs the network; ``auto`` picks CUDA, then OpenCL,
        then the CPU. :attr:`backend` says which runs.

    Attributes
    ----------
    classes : tuple of str
    crop : CropSpec
        The crop rule of the training faces; run time must crop the same way.
    info : dict
        The header: training data, test figures, cascade threshold, versions.
    """

    stage = "cnn"
    #: The classes its header may name: mask verdicts (a face verifier's network names others).
    KNOWN_CLASSES = CLASSES

    def __init__(self, path, *, backend: str = "auto"):
        self.path = Path(path)
        self._onnx, self.info = _read(self.path, self.KNOWN_CLASSES)
        self.classes = tuple(self.info["classes"])
        self.crop = CropSpec.from_dict(self.info["crop"])
        self._dnn = pick_backend(backend)
        self.backend = self._dnn[2]
        self._local = threading.local()
        self._net()   # fail now, not in the first worker thread, if OpenCV cannot run it

    @property
    def cascade_threshold(self) -> float | None:
        """The SVM confidence above which the cascade trusts the SVM (chosen on validation)."""
        c = self.info.get("cascade")
        return None if not c else float(c["threshold"])

    def _net(self):
        return thread_net(self, self._onnx, self.path)

    @property
    def crop_specs(self) -> tuple:
        """The crop rules whose crops :meth:`classify_crops` takes, in order (one here)."""
        return (self.crop,)

    def logits(self, crops) -> np.ndarray:
        """The network's scores before the softmax, ``(N, len(classes))`` float64, of uint8
        crops made with :attr:`crop`: ``(N, size, size, 3)`` BGR for a colour network, else
        ``(N, size, size)``."""
        crops = np.asarray(crops)
        shape = (self.crop.size, self.crop.size) + ((3,) if self.crop.color else ())
        if crops.ndim != len(shape) + 1 or crops.shape[1:] != shape:
            raise ValueError(f"expected crops of shape (N, {', '.join(map(str, shape))}), got {crops.shape}")
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)))
        net = self._net()
        logits = []
        for start in range(0, len(crops), BATCH):
            part = crops[start:start + BATCH]
            net.setInput(to_blob(part), INPUT_NAME)
            logits.append(net.forward().reshape(len(part), -1))
        logits = np.concatenate(logits).astype(np.float64)
        if logits.shape[1] != len(self.classes):
            raise ModelError(f"{self.path}: the network gives {logits.shape[1]} scores per face, "
                             f"its header names {len(self.classes)} classes")
        return logits

    def classify_crops(self, crops) -> np.ndarray:
        """Class probabilities (softmax), ``(N, len(classes))``, of crops as :meth:`logits` takes."""
        logits = self.logits(crops)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


class Cascade:
    """The SVM decides when it is sure; the CNN decides the rest.

    Faces without colour (gray or infrared frames) stay with the SVM's gray
    weights when the CNN learned from colour: on held-out faces turned gray
    the colour CNN scores 0.71, the gray weights 0.84.

    Parameters
    ----------
    svm : MaskClassifier
    cnn : CnnClassifier
        Same classes as ``svm``; it may crop faces its own way (in colour).
    threshold : float, optional
        SVM confidence (its largest calibrated probability) at or above
        which the SVM's verdict stands. Default: the one stored in the CNN's
        header, chosen on validation faces.

    Attributes
    ----------
    calls, faces : int
        How many faces went to the CNN, out of how many.
    """

    def __init__(self, svm, cnn: CnnClassifier, threshold: float | None = None):
        if tuple(svm.classes) != tuple(cnn.classes):
            raise ModelError(f"the SVM's classes {svm.classes} differ from the CNN's {cnn.classes}")
        if threshold is None:
            threshold = cnn.cascade_threshold
            if threshold is None:
                raise ModelError(f"{cnn.path}: its header holds no cascade threshold; pass one")
            chosen_for = cnn.info.get("cascade", {}).get("svm_coef_sha256")
            if chosen_for and chosen_for != _sha256(svm.coef):
                # A threshold is a point on one SVM's confidence scale: another SVM's differs.
                log.warning("%s: its cascade threshold %.3f was chosen for another SVM than this "
                            "one; retrain the CNN with `maskhog train-cnn --svm` or pass a threshold",
                            cnn.path, threshold)
        self.svm, self.cnn, self.threshold = svm, cnn, float(threshold)
        self.classes = svm.classes
        # Each stage crops faces its own way (both may share one colour rule).
        self.crop_specs = (svm.crop, cnn.crop)
        self.calls = self.faces = 0
        self._lock = threading.Lock()

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def classify_crops(self, svm_crops, cnn_crops) -> np.ndarray:
        """Class probabilities of the same faces cropped for each stage (:attr:`crop_specs`):
        the SVM's where it is sure, else the CNN's."""
        proba, _ = self.classify_with_stage(svm_crops, cnn_crops)
        return proba

    def classify_with_stage(self, svm_crops, cnn_crops) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and, per face, which stage decided (``"svm"`` or ``"cnn"``)."""
        if len(cnn_crops) != len(svm_crops):
            raise ValueError(f"{len(svm_crops)} SVM crops but {len(cnn_crops)} CNN crops")
        if len(svm_crops) == 0:
            return np.zeros((0, len(self.classes))), np.array([], dtype=str)
        X = self.svm.describe(svm_crops)
        proba = self.svm.predict_proba(X)
        unsure = proba.max(axis=1) < self.threshold
        if self.svm.gray is not None and self.cnn.crop.color:
            # A colour CNN is lost without colour: the SVM's gray weights decide such faces.
            unsure &= ~self.svm.achromatic(X)
        if unsure.any():
            proba[unsure] = self.cnn.classify_crops(np.asarray(cnn_crops)[unsure])
        with self._lock:
            self.calls += int(unsure.sum())
            self.faces += len(proba)
        return proba, np.where(unsure, "cnn", "svm")

    @property
    def cnn_fraction(self) -> float:
        """Share of the faces so far that went to the CNN."""
        return self.calls / self.faces if self.faces else 0.0


def make_classifier(stage: str, svm, cnn=None, *, backend: str = "auto", threshold=None):
    """The classifier of a ``--stage``: the SVM, the CNN, or the cascade of both.

    ``svm`` and ``cnn`` may be models or paths; a ``None`` CNN means the shipped one.
    ``threshold`` overrides the cascade's (see :class:`Cascade`).
    """
    from .model import MaskClassifier

    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    if stage == "svm":
        return svm if isinstance(svm, MaskClassifier) else MaskClassifier.load(svm)
    if not isinstance(cnn, CnnClassifier):
        cnn = CnnClassifier(cnn or default_cnn_path(), backend=backend)
    if stage == "cnn":
        return cnn
    svm = svm if isinstance(svm, MaskClassifier) else MaskClassifier.load(svm)
    return Cascade(svm, cnn, threshold)


def read_onnx(path: Path, fmt: str = FORMAT, version: int = FORMAT_VERSION, *, kind: str = "CNN",
              maker: str = "maskhog train-cnn"):
    """The bytes, graph and header of a maskhog ONNX file of format ``fmt``, its graph checked
    against the header's SHA-256; :class:`ModelError` (naming a ``kind`` of file and the command
    that makes it) if it is unreadable, not ONNX, of another format or newer, or edited."""
    import onnx

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {kind} file {path}: {exc.strerror or exc}") from None
    if not data:
        raise ModelError(f"{path}: the file is empty, not an ONNX graph")
    try:
        model = onnx.load_model_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:   # protobuf and checker errors have no common base class
        raise ModelError(f"{path}: not a valid ONNX graph ({type(exc).__name__}: "
                         f"{str(exc).strip()[:200] or 'cannot parse'})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if HEADER_KEY not in props:
        raise ModelError(f"{path}: an ONNX graph without a maskhog header; make {kind} files with `{maker}`")
    try:
        info = json.loads(props[HEADER_KEY])
        found = info.get("format")
    except (ValueError, AttributeError) as exc:
        raise ModelError(f"{path}: damaged maskhog header ({type(exc).__name__}: {exc})") from None
    if found != fmt:
        raise ModelError(f"{path}: not a maskhog {kind} (format {found!r})")
    made = info.get("format_version", 0)
    if not isinstance(made, int):
        raise ModelError(f"{path}: damaged maskhog header (format version {made!r})")
    if made > version:
        raise ModelError(f"{path}: made by a newer maskhog (format version {made}); upgrade maskhog")
    if info.get("graph_sha256") != graph_sha256(model):
        raise ModelError(f"{path}: the graph does not match its header's SHA-256 "
                         "(edited or damaged after training)")
    return data, model, info


def _read(path: Path, known=CLASSES) -> tuple[bytes, dict]:
    """The bytes and checked header of a maskhog CNN file whose classes are among ``known``;
    :class:`ModelError` if unusable."""
    data, model, info = read_onnx(path)
    try:
        classes, crop = info["classes"], CropSpec.from_dict(info["crop"])
        size, channels = int(info["input"]["size"]), int(info["input"].get("channels", 1))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: damaged maskhog header ({type(exc).__name__}: {exc})") from None
    if not classes or any(c not in known for c in classes):
        raise ModelError(f"{path}: classes {classes} are not {', '.join(known)}: "
                         "not this kind of maskhog network")
    if size != crop.size or channels != (3 if crop.color else 1):
        raise ModelError(f"{path}: header input {channels}x{size}x{size} does not fit its crop rule {crop}")
    inputs = [i for i in model.graph.input if i.name == INPUT_NAME]
    if not inputs:
        raise ModelError(f"{path}: the graph has no input named {INPUT_NAME!r}")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1:] != [channels, size, size]:
        shown = "x".join("N" if d is None else str(d) for d in dims)
        raise ModelError(f"{path}: the graph takes input {shown}, its header says "
                         f"Nx{channels}x{size}x{size}")
    return data, info
