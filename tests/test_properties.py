"""Any bytes give a result or one clear error: the image loader, the Pascal VOC reader,
both model-file loaders and the settings file, fed generated and mutated inputs.

Hypothesis runs derandomized with a bounded number of examples, so CI sees the same
inputs every time within a few seconds (MASKHOG_PROPERTY_EXAMPLES=N asks for N fresh
random ones instead); inputs it once found that broke a loader
are kept as explicit ``@example`` cases. Memory is bounded by tracemalloc's peak,
which counts NumPy's allocations.
"""

import os
import tracemalloc
from pathlib import Path

import click
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from maskhog.classify import MaskClassifier
from maskhog.classify.cnn import CnnClassifier, default_cnn_path
from maskhog.classify.linear import default_model_path
from maskhog.cli import main as cli_group
from maskhog.cli.config import load_settings
from maskhog.crops import CropSpec, crop_faces
from maskhog.io import ImageError, read_image
from maskhog.io.demo import demo_images
from maskhog.modelfiles import ModelError
from maskhog.training.data import load_dataset

# MASKHOG_PROPERTY_EXAMPLES=2000 hunts further, with fresh random inputs each run.
_HUNT = int(os.environ.get("MASKHOG_PROPERTY_EXAMPLES", 0))
BOUNDED = settings(max_examples=_HUNT or 40, deadline=None, derandomize=not _HUNT, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MEMORY = 300 * 2 ** 20   # bytes NumPy may hold at the peak of one load


class Damaged(bytes):
    """Bytes of a real file with a few overwritten, maybe cut short; shown by the damage
    done, so a failing example reads as a recipe rather than 100 kB of bytes."""

    def __new__(cls, original: bytes, edits, keep):
        data = bytearray(original)
        for at, value in edits:
            data[at] = value
        self = super().__new__(cls, bytes(data[:keep]))
        self.recipe = f"Damaged(<{len(original)} bytes>, edits={edits!r}, keep={keep})"
        return self

    def __repr__(self):
        return self.recipe


def mutated(original: bytes):
    """The damage a disk, a download or a hostile user does to a real file."""
    size = len(original)
    edit = st.tuples(st.integers(0, size - 1), st.integers(0, 255))
    return st.builds(lambda edits, keep: Damaged(original, edits, keep),
                     st.lists(edit, max_size=8), st.integers(1, size))


def within_memory(load):
    """``load()``'s result, checking NumPy's peak memory while it ran."""
    tracemalloc.start()
    try:
        result = load()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY, f"{peak / 2 ** 20:.0f} MB"
    return result


_, _MASKED = demo_images()[1]
_SMALL = cv2.resize(_MASKED, (96, 96))
PNG, JPEG = (cv2.imencode(ext, _SMALL)[1].tobytes() for ext in (".png", ".jpg"))


@BOUNDED
@given(data=st.one_of(st.binary(max_size=4096), mutated(PNG), mutated(JPEG)),
       suffix=st.sampled_from([".png", ".jpg", ".bmp", ".webp", ".txt"]))
@example(data=b"", suffix=".png")
@example(data=PNG[:40], suffix=".png")   # a header that promises rows that never come
def test_any_bytes_read_as_an_image_or_an_image_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("img") / f"x{suffix}"
    path.write_bytes(data)
    try:
        image = within_memory(lambda: read_image(path))
    except ImageError as exc:
        assert str(path) in str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size


_VOC = """<annotation><filename>x.png</filename>
<size><width>{w}</width><height>{h}</height></size>
<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>
</bndbox></object></annotation>"""

numbers = st.one_of(st.integers(-10 ** 12, 10 ** 12).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e400", "-1e400", "nan", "inf", "", "12px", "0x10", "9" * 400]),
                    st.text(max_size=8))
names = st.one_of(st.sampled_from(["with_mask", "without_mask", "mask_weared_incorrect", "face_mask"]),
                  st.text(max_size=12))


@BOUNDED
@given(w=numbers, h=numbers, x1=numbers, y1=numbers, x2=numbers, y2=numbers, name=names)
@example(w="inf", h="inf", x1="0", y1="0", x2="1e400", y2="50", name="with_mask")
@example(w="", h="", x1="0", y1="0", x2="90000", y2="90000", name="without_mask")
def test_any_voc_numbers_give_faces_inside_the_image_or_a_skip(tmp_path_factory, w, h, x1, y1, x2, y2, name):
    root = tmp_path_factory.mktemp("voc")
    cv2.imwrite(str(root / "x.png"), _SMALL)
    from xml.sax.saxutils import escape
    fields = {k: escape(v) for k, v in dict(w=w, h=h, x1=x1, y1=y1, x2=x2, y2=y2, name=name).items()}
    (root / "x.xml").write_text(_VOC.format(**fields), encoding="utf-8", errors="surrogatepass")
    try:
        data = load_dataset(root)
    except ValueError:
        return
    for sample in data.samples:   # cropped as training crops them: within the image, bounded
        crops = within_memory(lambda: crop_faces(read_image(sample.path), [sample.box], CropSpec(size=32)))
        assert crops.shape[0] == 1 and crops.shape[1:3] == (32, 32)


@BOUNDED
@given(data=st.one_of(st.binary(max_size=2048), mutated(default_model_path().read_bytes())))
@example(data=Damaged(default_model_path().read_bytes(), [(28, 0)], 10 ** 9))   # a zlib.error escaped
def test_any_bytes_load_as_a_classifier_or_a_model_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    path.write_bytes(data)
    try:
        model = within_memory(lambda: MaskClassifier.load(path))
    except ModelError as exc:
        assert str(path) in str(exc)
        return
    assert model.classes   # a file that survived its damage is still a whole model


@BOUNDED
@given(data=st.one_of(st.binary(max_size=2048), mutated(default_cnn_path().read_bytes())))
def test_any_bytes_load_as_a_cnn_or_a_model_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cnn") / "m.onnx"
    path.write_bytes(data)
    try:
        model = within_memory(lambda: CnnClassifier(path, backend="cpu"))
    except ModelError as exc:
        assert str(path) in str(exc)
        return
    assert model.classes


toml_values = st.recursive(st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
                           lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def _toml(value):
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return json.dumps(value)   # integers, floats and strings are valid TOML as JSON writes them


@BOUNDED
@given(text=st.one_of(
    st.text(max_size=200),
    st.builds(lambda table, key, value: f"[{table}]\n{key} = {_toml(value)}\n",
              st.sampled_from(["predict", "live", "train", "config show", "nope"]),
              st.sampled_from(["min-face", "min_face", "jobs", "format", "every", "retry", "colour"]),
              toml_values)))
@example(text="[predict]\nmin-face = 40\n")
def test_any_settings_file_gives_settings_or_a_usage_error(tmp_path_factory, text):
    path = Path(tmp_path_factory.mktemp("cfg")) / "maskhog.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        settings_map = load_settings(cli_group, path)
    except click.UsageError as exc:
        assert str(path) in exc.message
        return
    assert isinstance(settings_map, dict)
    if text == "[predict]\nmin-face = 40\n":
        assert settings_map == {"predict": {"min_face": 40}}


@pytest.mark.parametrize("value", ["[predict]\nmin-face = 'big'\n", "[predict]\njobs = -3\n"])
def test_a_settings_value_of_the_wrong_kind_is_a_usage_error_of_the_command(tmp_path, value):
    """The file's values meet click's own checks, as a flag's would."""
    from click.testing import CliRunner
    (tmp_path / "maskhog.toml").write_text(value)
    result = CliRunner().invoke(cli_group, ["--config", str(tmp_path / "maskhog.toml"), "predict", "--demo"])
    assert result.exit_code == 2 and "Traceback" not in result.output
