"""Shared fixtures: real photographs that scikit-image ships, and both kernel builds."""

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
