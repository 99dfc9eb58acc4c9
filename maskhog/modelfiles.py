"""Model files: how maskhog writes, checks and opens them, for every kind of model.

Two formats, both safe to load (no pickle, so a file never runs code):

* **arrays + header** (the linear mask classifier, the linear face verifier):
  a NumPy ``.npz`` archive of plain arrays plus a UTF-8 JSON ``header``
  that names the format and holds the SHA-256 of every array; read with
  ``allow_pickle=False``;
* **ONNX + header** (the CNN stage, the CNN face verifier, the proposal
  network): an ONNX graph (protobuf) whose ``metadata_props`` hold a JSON
  header under the key ``maskhog``, with the SHA-256 of the graph.

A file that is damaged, edited after training, of another kind or newer than
this maskhog is refused with a :class:`ModelError` saying why. The networks
run on OpenCV DNN; :func:`pick_backend` chooses where.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["ModelError", "array_sha256", "save_npz", "load_npz", "graph_sha256", "save_onnx",
           "read_onnx", "pick_backend", "open_net", "onnx_net", "dry_run", "HEADER_KEY",
           "MAX_MODEL_BYTES"]

#: The ``metadata_props`` key of an ONNX file's maskhog header.
HEADER_KEY = "maskhog"


class ModelError(ValueError):
    """A model file that cannot be used; the message says why."""


# ------------------------------------------------------------- arrays + header --

def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save_npz(path, header: dict, arrays: dict) -> None:
    """Write ``arrays`` and a JSON ``header`` (given the arrays' SHA-256) as one ``.npz`` file."""
    header = {**header, "sha256": {name: array_sha256(a) for name, a in arrays.items()}}
    blob = np.frombuffer(json.dumps(header, indent=1, sort_keys=True).encode(), np.uint8)
    with open(path, "wb") as f:   # np.savez would add .npz to other suffixes
        np.savez_compressed(f, header=blob, **arrays)


#: The largest model file read, and the most its arrays may unpack to: the shipped ones
#: are well under 1 MB, and a file is read whole before any checksum can be checked.
MAX_MODEL_BYTES = 256 * 2**20
#: The most a header may unpack to (it is JSON of a few kilobytes).
MAX_HEADER_BYTES = 2**20


def _check_archive(path: Path, kind: str) -> None:
    """Refuse, before NumPy allocates anything, a file that is not a zip of plain ``.npy``
    arrays of sensible sizes: NumPy sizes an array from its member's own header, so a
    3 MB file can ask for gigabytes."""
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"{path}: {size:,} bytes, over the {MAX_MODEL_BYTES:,} a {kind} file may have")
    if not zipfile.is_zipfile(path):
        # np.load would take other bytes for a pickle and suggest allow_pickle.
        raise ModelError(f"{path}: not a readable maskhog {kind} (not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for member in archive.infolist():
                limit = MAX_HEADER_BYTES if member.filename == "header.npy" else MAX_MODEL_BYTES
                total += member.file_size
                if member.file_size > limit or total > MAX_MODEL_BYTES:
                    raise ModelError(f"{path}: member {member.filename!r} unpacks to "
                                     f"{member.file_size:,} bytes, more than a {kind} holds")
                with archive.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                if dtype.hasobject:
                    raise ModelError(f"{path}: member {member.filename!r} holds Python objects, "
                                     f"which a {kind} never does")
                if int(np.prod(shape, dtype=object)) * dtype.itemsize > member.file_size:
                    raise ModelError(f"{path}: member {member.filename!r} claims an array of "
                                     f"{shape} {dtype}, larger than the data it holds")
    except ModelError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, TypeError,
            NotImplementedError, RuntimeError, zlib.error) as exc:
        # NotImplementedError: an unknown compression; zlib.error: a damaged compressed member
        raise ModelError(f"{path}: not a readable maskhog {kind} ({type(exc).__name__}: {exc})") from None


def load_npz(path, fmt: str, kind: str, names, optional=(), *, version: int) -> tuple[dict, dict]:
    """The header and arrays of a file :func:`save_npz` wrote in format ``fmt``, of
    ``format_version`` ``version`` or older.

    ``names`` must be there, ``optional`` may be; every array must match its
    checksum. ``kind`` names the file in messages ("model", "face verifier").

    Raises
    ------
    ModelError
        Missing, not an ``.npz`` archive, no header, another format, made by a
        newer maskhog, an array missing or altered.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such {kind} file")
    _check_archive(path, kind)
    try:
        # Our own file handle: np.load leaks its own when the zip is damaged.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            files = set(npz.files)
            if "header" not in files:
                raise ModelError(f"{path}: not a maskhog {kind} (no header)")
            header = json.loads(bytes(npz["header"]).decode())
            arrays = {name: np.array(npz[name]) for name in (*names, *optional) if name in files}
    except ModelError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError,
            AttributeError, TypeError, zlib.error) as exc:   # AttributeError: a plain .npy array
        raise ModelError(f"{path}: not a readable maskhog {kind} ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise ModelError(f"{path}: not a maskhog {kind} (format {fmt!r} expected)")
    made = header.get("format_version")
    if not isinstance(made, int) or made > version:
        raise ModelError(f"{path}: {kind} format {made} is newer than this maskhog reads "
                         f"({version}); upgrade maskhog")
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ModelError(f"{path}: the {kind} is missing arrays {missing}")
    sums = header.get("sha256")
    for name, a in arrays.items():
        if not isinstance(sums, dict) or sums.get(name) != array_sha256(a):
            raise ModelError(f"{path}: checksum of {name!r} does not match: the file was "
                             "altered or damaged")
    return header, arrays


# --------------------------------------------------------------- ONNX + header --

def graph_sha256(model) -> str:
    """SHA-256 of an ONNX model's graph (everything but the metadata that holds it)."""
    return hashlib.sha256(model.graph.SerializeToString(deterministic=True)).hexdigest()


def save_onnx(model, path, header: dict, fmt: str, version: int) -> None:
    """Write an ONNX ``model`` with a maskhog ``header`` (plus format and graph SHA-256)."""
    import onnx

    header = {"format": fmt, "format_version": version, **header, "graph_sha256": graph_sha256(model)}
    del model.metadata_props[:]
    model.metadata_props.add(key=HEADER_KEY, value=json.dumps(header))
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))


def read_onnx(path: Path, fmt: str, version: int, *, kind: str, maker: str):
    """The bytes, graph and header of a maskhog ONNX file of format ``fmt``, its graph checked
    against the header's SHA-256; :class:`ModelError` (naming a ``kind`` of file and the command
    that makes it) if it is unreadable, not ONNX, of another format or newer, or edited."""
    import onnx

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{path}: {size:,} bytes, over the {MAX_MODEL_BYTES:,} a {kind} file may have")
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


# ------------------------------------------------------------------ OpenCV DNN --

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


def reason(exc: BaseException) -> str:
    """The last line of an exception's message (OpenCV's and ONNX Runtime's run to several, the
    cause last), or its type's name where it has none: what a model error quotes."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def open_net(read, dnn, failure: str, error=ModelError):
    """The OpenCV DNN network ``read()`` gives, set to run on ``dnn`` (from :func:`pick_backend`);
    if OpenCV cannot read it, ``error`` says ``failure`` and OpenCV's reason."""
    import cv2

    try:
        net = read()
    except cv2.error as exc:
        raise error(f"{failure} ({reason(exc)})") from None
    net.setPreferableBackend(dnn[0])
    net.setPreferableTarget(dnn[1])
    return net


def dry_run(run, path) -> None:
    """Call ``run()``, a first pass of a network over a blank input, and turn OpenCV's and
    NumPy's complaints into a :class:`ModelError` naming ``path``: a graph can pass ONNX's
    checker and carry a valid header yet not be a network maskhog can use."""
    import cv2

    try:
        run()
    except ModelError:
        raise
    except (cv2.error, ValueError, IndexError) as exc:
        raise ModelError(f"{path}: OpenCV cannot run this network on its declared input ({reason(exc)})") from None


def onnx_net(data: bytes, dnn, path):
    """An OpenCV DNN network of the ONNX bytes ``data``, set to run on ``dnn``. OpenCV's
    networks are not thread-safe: callers keep one per thread (:class:`maskhog.perthread.PerThread`)."""
    import cv2

    return open_net(lambda: cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8)), dnn,
                    f"{path}: OpenCV cannot run this ONNX graph")
