"""What every lesson's script shares: the demo faces as the classifier cuts them, and saving figures.

The faces are the astronaut photo that scikit-image ships and its copy with a drawn
mask (:mod:`maskhog.io.demo`), found by maskhog's own detector and cut by the shipped
SVM's crop rule: the course needs no download.
"""

import argparse
from functools import lru_cache
from pathlib import Path

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "course" / "figures"


@lru_cache(maxsize=1)
def demo_faces():
    """``[(name, BGR photo, box, colour crop, gray crop)]`` for the bare and the masked astronaut."""
    from maskhog.classify import MaskClassifier, default_model_path
    from maskhog.crops import crop_faces
    from maskhog.features import gray_crops
    from maskhog.io.demo import demo_images
    from maskhog.pipeline import MaskDetector

    finder = MaskDetector()
    rule = MaskClassifier.load(default_model_path()).crop
    faces = []
    for name, photo in demo_images():
        box = finder.detect(photo)[0].box
        crop = crop_faces(photo, [box], rule)[0]
        faces.append((name, photo, box, crop, gray_crops(crop)))
    return faces


def figure(width, height):
    """A matplotlib figure that no window or global state holds (nothing to close)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=80)


def save(fig, out: Path, name: str) -> Path:
    path = out / name
    fig.savefig(path, bbox_inches="tight")
    return path


def run(main, doc: str):
    """Parse ``--out`` (default: docs/course/figures) and call ``main(out)``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    main(args.out)
