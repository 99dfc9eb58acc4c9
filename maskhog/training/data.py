"""Labelled faces, read the way users keep them, and honest splits.

Two layouts are understood, and :func:`load_dataset` tells them apart:

* **class folders**: ``root/with_mask/*.jpg``, ``root/without_mask/*.jpg``,
  ... (folder names go through :func:`maskhog.labels.canonical_label`),
  optionally with ``root/manifest.csv`` (columns ``file``, ``label`` and
  ``group``: near-duplicates share a group and stay on one side of a split);
* **Pascal VOC scenes**: ``root/annotations/*.xml`` with the images in
  ``root/images/`` (or beside the XML), one labelled box per face.

A :class:`Sample` is one face: an image file, a label, a box (``None`` for a
class-folder image: the face is found at crop time) and a split group.
Problems (unknown labels, boxes outside the image, unreadable XML) are
reported once each with the file's name and the sample is skipped.
Annotation XML is untrusted input and is parsed with defusedxml.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import IMAGE_SUFFIXES
from ..labels import CLASSES, LabelError, canonical_label

__all__ = ["Sample", "Dataset", "load_dataset", "load_datasets", "group_split"]

log = logging.getLogger("maskhog")


@dataclass(frozen=True)
class Sample:
    """One labelled face."""

    path: str
    label: str
    box: tuple[int, int, int, int] | None
    group: str


@dataclass
class Dataset:
    """Samples read from one or more folders, with what was skipped and why."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def __len__(self):
        return len(self.samples)

    def extend(self, other: "Dataset") -> None:
        self.samples += other.samples
        self.skipped += other.skipped
        self.kinds += other.kinds

    def skip(self, message: str) -> None:
        log.warning("skipped %s", message)
        self.skipped.append(message)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples])

    @property
    def groups(self) -> np.ndarray:
        return np.array([s.group for s in self.samples])

    def counts(self) -> dict[str, int]:
        c = Counter(s.label for s in self.samples)
        return {k: c[k] for k in CLASSES if c[k]}

    def subset(self, index) -> "Dataset":
        return Dataset([self.samples[i] for i in index], [], list(self.kinds))

    def require_classes(self, n: int = 2) -> None:
        """Raise ValueError, saying what was found, unless faces of ``n`` classes or more are here:
        checked when the folders are read, not after minutes of cropping."""
        counts = self.counts()
        if len(counts) >= n:
            return
        found = ", ".join(f"{k} faces of {label}" for label, k in counts.items()) or "no faces"
        missing = [c for c in CLASSES if c not in counts]
        raise ValueError(f"training needs faces of at least {n} classes; these folders hold {found}: "
                         f"add a folder of {' or '.join(missing)} faces (class folders are named "
                         f"{', '.join(CLASSES)})")


def load_datasets(roots) -> Dataset:
    """Read and combine several data folders (any mix of layouts)."""
    data = Dataset()
    for root in roots:
        data.extend(load_dataset(root))
    return data


def load_dataset(root) -> Dataset:
    """Read one data folder, class folders or Pascal VOC (see the module's notes)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    if (root / "annotations").is_dir() or any(root.glob("*.xml")):
        return _read_voc(root)
    return _read_class_folders(root)


def _read_class_folders(root: Path) -> Dataset:
    data = Dataset(kinds=[f"class folders: {root}"])
    manifest = root / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    label = canonical_label(row["label"])
                except (KeyError, LabelError) as exc:
                    data.skip(f"{manifest}: row {row.get('file')}: {exc}")
                    continue
                data.samples.append(Sample(str(root / row["file"]), label, None,
                                           f"{root}:{row.get('group') or row['file']}"))
        return data
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = canonical_label(sub.name)
        except LabelError as exc:
            data.skip(f"{sub}: {exc}")
            continue
        for path in sorted(sub.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                # Without a manifest each image is its own group.
                data.samples.append(Sample(str(path), label, None, str(path)))
    if not data.samples:
        raise ValueError(f"{root}: no class folders with images (expected e.g. "
                         f"{root}/with_mask/*.jpg and {root}/without_mask/*.jpg)")
    return data


def _read_voc(root: Path) -> Dataset:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    data = Dataset(kinds=[f"Pascal VOC: {root}"])
    xml_dir = root / "annotations" if (root / "annotations").is_dir() else root
    image_dir = root / "images" if (root / "images").is_dir() else xml_dir
    for xml in sorted(xml_dir.glob("*.xml")):
        try:
            tree = ElementTree.parse(xml)
        except (ElementTree.ParseError, DefusedXmlException, OSError) as exc:
            data.skip(f"{xml}: unreadable annotation ({exc})")
            continue
        ann = tree.getroot()
        name = (ann.findtext("filename") or xml.stem + ".jpg").strip()
        image = image_dir / Path(name).name
        if not image.is_file():
            matches = [p for p in image_dir.glob(xml.stem + ".*") if p.suffix.lower() in IMAGE_SUFFIXES]
            if not matches:
                data.skip(f"{xml}: its image {name} is missing")
                continue
            image = matches[0]
        size = ann.find("size")
        try:
            width = _pixels(size.findtext("width")) if size is not None else 0
            height = _pixels(size.findtext("height")) if size is not None else 0
        except (TypeError, ValueError):
            width = height = 0   # the image itself is measured at crop time
        for obj in ann.iter("object"):
            try:
                label = canonical_label(obj.findtext("name", ""))
                bb = obj.find("bndbox")
                x1, y1, x2, y2 = (_pixels(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            except LabelError as exc:
                data.skip(f"{xml}: {exc}")
                continue
            except (AttributeError, TypeError, ValueError):
                data.skip(f"{xml}: an object without a valid bndbox")
                continue
            if width and height:
                if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
                    data.skip(f"{xml}: box {x1},{y1},{x2},{y2} lies outside the {width}x{height} image")
                    continue
                x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
            if x2 - x1 < 2 or y2 - y1 < 2:
                data.skip(f"{xml}: empty box {x1},{y1},{x2},{y2}")
                continue
            data.samples.append(Sample(str(image), label, (x1, y1, x2, y2), str(image)))
    if not data.samples and not data.skipped:
        raise ValueError(f"{root}: no Pascal VOC annotations found")
    return data


#: Coordinates beyond this are not pixels of any image maskhog reads (its pixel limit is 50 M).
_MAX_COORD = 1_000_000


def _pixels(text) -> int:
    """An annotation's number as whole pixels; ``ValueError`` for text, NaN, infinity
    (``1e400``) and absurd values."""
    value = float(text)
    if not abs(value) <= _MAX_COORD:   # also False for NaN
        raise ValueError(f"{text!r} is not a pixel coordinate")
    return int(round(value))


def group_split(data: Dataset, fractions=(0.7, 0.15, 0.15), *, seed: int = 0):
    """Split into train / validation / test, stratified by label, groups kept whole.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` with as many
    folds as the smallest fraction allows, then assigns folds to the parts.

    Returns
    -------
    list of index arrays, one per fraction
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n_folds = int(round(1 / min(fractions)))
    y, groups = data.labels, data.groups
    n_groups = len(set(groups))
    if n_groups < n_folds:
        raise ValueError(f"only {n_groups} groups: too few to split {fractions}")
    folds = [test for _, test in StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
             .split(np.zeros(len(y)), y, groups)]
    parts, start = [], 0
    for frac in fractions:
        k = max(1, int(round(frac * n_folds)))
        parts.append(np.sort(np.concatenate(folds[start:start + k])) if k else np.array([], int))
        start += k
    parts[-1] = np.sort(np.concatenate([parts[-1], *folds[start:]])) if start < n_folds else parts[-1]
    return parts
