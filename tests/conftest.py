"""Shared fixtures: real photographs that scikit-image ships, and both kernel builds."""

import os

# Tests run `python -m maskhog` in subprocesses from the checkout's root: without this, Python
# puts the working folder first on sys.path and the uncompiled source tree shadows the package
# installed from it (`pip install .` in CI).
os.environ["PYTHONSAFEPATH"] = "1"

import cv2
import numpy as np
import pytest
from skimage import data

from maskhog import features


def _builds():
    builds = []
    for name in ("_features", "_features_avx2"):
        try:
            module = __import__(f"maskhog.{name}", fromlist=[name])
        except ImportError:
            continue
        if name == "_features_avx2" and not features._cpu_has_avx2():
            continue
        builds.append(pytest.param(module, id=name.strip("_")))
    return builds


@pytest.fixture(params=_builds())
def kernels(request, monkeypatch):
    """Run a test once per compiled build that this CPU can execute."""
    monkeypatch.setattr(features, "_features", request.param)
    return request.param


@pytest.fixture(scope="session")
def photos():
    """Real grayscale photographs bundled with scikit-image, as uint8."""
    gray = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # noqa: E731
    return {
        "astronaut": gray(data.astronaut()),
        "camera": data.camera(),
        "coins": data.coins(),
        "coffee": gray(data.coffee()),
    }


@pytest.fixture(scope="session")
def face_crops(photos):
    """Crops of real photographs at the sizes maskhog uses, square and not."""
    a = photos["astronaut"]
    c = photos["camera"]
    return [
        np.ascontiguousarray(a[30:94, 170:234]),      # the astronaut's face, 64x64
        np.ascontiguousarray(cv2.resize(a[20:230, 150:330], (96, 96), interpolation=cv2.INTER_AREA)),
        np.ascontiguousarray(c[60:127, 200:245]),     # 67x45, odd sizes
        np.ascontiguousarray(photos["coins"][:50, :130]),
    ]


@pytest.fixture(scope="session")
def shared():
    """The project's shared data sets (../shared/data beside the checkout); skip without them."""
    import os
    from pathlib import Path

    root = Path(os.environ.get("MASKHOG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (root / "faces" / "manifest.csv").is_file():
        pytest.skip("the shared data sets (../shared/data) are not here")
    return root


@pytest.fixture(scope="session")
def texture_folders(tmp_path_factory):
    """Class folders of real photographed textures standing in for two classes.

    Brick patches are filed as with_mask and grass patches as without_mask: a
    real two-class problem on real images that trains in seconds, with a
    manifest whose groups keep overlapping patches together.
    """
    root = tmp_path_factory.mktemp("textures")
    rows = ["file,label,group"]
    for label, image in (("with_mask", data.brick()), ("without_mask", data.grass())):
        (root / label).mkdir()
        for k, (y, x) in enumerate((y, x) for y in range(0, 400, 40) for x in range(0, 400, 40)):
            patch = image[y:y + 96, x:x + 96]
            name = f"{label}/{k:03d}.png"
            cv2.imwrite(str(root / name), patch)
            rows.append(f"{name},{label},{label}-{y // 80}-{x // 80}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


VOC = ("<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height></size>"
       "<object><name>without_mask</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
       "<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>")


@pytest.fixture(scope="session")
def astronaut_scenes(tmp_path_factory):
    """12 photos: the astronaut at several sizes and places on a plain background."""
    root = tmp_path_factory.mktemp("voc")
    (root / "images").mkdir()
    (root / "annotations").mkdir()
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    face = np.array([174, 74, 273, 174], float)          # her face in the 512-px photo
    rng = np.random.default_rng(0)
    for k in range(12):
        side = int(rng.integers(260, 420))
        canvas = np.full((480, 640, 3), int(rng.integers(60, 200)), np.uint8)
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        canvas[y:y + side, x:x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        x1, y1, x2, y2 = (face * side / 512 + [x, y, x, y]).round().astype(int)
        cv2.imwrite(str(root / "images" / f"s{k}.jpg"), canvas)
        (root / "annotations" / f"s{k}.xml").write_text(
            VOC.format(name=f"s{k}.jpg", w=640, h=480, x1=x1, y1=y1, x2=x2, y2=y2))
    return root
