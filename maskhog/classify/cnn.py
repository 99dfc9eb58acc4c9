"""The CNN second stage: a small ONNX network run by OpenCV DNN.

The linear SVM is fast and explainable; a small convolutional network is
more accurate on hard faces (dark or patterned masks, hands over the mouth,
tilted heads). :class:`maskhog.classify.Cascade` gives both.

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

from pathlib import Path

import numpy as np

from .. import tuning
from ..crops import CropSpec
from ..labels import CLASSES
from ..modelfiles import ModelError, dry_run, onnx_net, pick_backend, read_onnx, save_onnx
from ..perthread import PerThread

__all__ = ["CnnClassifier", "FORMAT", "FORMAT_VERSION", "INPUT_NAME", "default_cnn_path", "read_cnn", "save_cnn",
           "to_blob"]

FORMAT = "maskhog-cnn"
FORMAT_VERSION = 1
#: The graph's input: a batch of crops, ``(N, C, H, W)`` float32 pixels 0-255.
INPUT_NAME = "crops"


def to_blob(crops, dtype=np.float32) -> np.ndarray:
    """Crops as the network's float32 ``(N, C, H, W)`` input: gray ``(N, H, W)`` or BGR
    ``(N, H, W, 3)`` uint8 in. Pixels stay 0-255: the graph scales them itself. ``dtype``
    ``np.uint8`` keeps uint8 crops as they are, in a quarter of the memory."""
    crops = np.asarray(crops)
    blob = crops.transpose(0, 3, 1, 2) if crops.ndim == 4 else crops[:, None]
    return np.ascontiguousarray(blob, dtype=dtype)


def default_cnn_path() -> Path:
    """The CNN shipped inside the package."""
    return Path(__file__).parent.parent / "models" / "cnn.onnx"


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
        self.onnx, self.info = read_cnn(self.path, self.KNOWN_CLASSES)
        self.classes = tuple(self.info["classes"])
        self.crop = CropSpec.from_dict(self.info["crop"])
        self.dnn = pick_backend(backend)
        self.backend = self.dnn[2]
        # Run it once now: a graph that OpenCV cannot run, or that gives other scores than its
        # header names, fails here with a message rather than in the first worker thread.
        blank = np.zeros((1, self.crop.size, self.crop.size) + ((3,) if self.crop.color else ()), np.uint8)
        dry_run(lambda: self.logits(blank), self.path)

    @property
    def cascade_threshold(self) -> float | None:
        """The SVM confidence above which the cascade trusts the SVM (chosen on validation)."""
        c = self.info.get("cascade")
        return None if not c else float(c["threshold"])

    def _net(self):
        return self.per_thread("net", lambda: onnx_net(self.onnx, self.dnn, self.path))

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
        for start in range(0, len(crops), tuning.CNN_BATCH):
            part = crops[start:start + tuning.CNN_BATCH]
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


def save_cnn(model, path, header: dict) -> None:
    """Write an ONNX ``model`` as a maskhog CNN file with ``header`` (classes, crop, input, ...)."""
    save_onnx(model, path, header, FORMAT, FORMAT_VERSION)


def read_cnn(path: Path, known=CLASSES) -> tuple[bytes, dict]:
    """The bytes and checked header of a maskhog CNN file whose classes are among ``known``;
    :class:`ModelError` if unusable."""
    data, model, info = read_onnx(path, FORMAT, FORMAT_VERSION, kind="CNN", maker="maskhog train-cnn")
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
