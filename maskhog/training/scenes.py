"""The photos the detector learns from: scene photos split by photo, face photos by group.

Every detector trainer (templates, proposal network, face verifiers) splits
the same way with the same seed, so that no trainer learns from another's
test photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import load_datasets

__all__ = ["image_split", "split_scenes", "training_face_photos"]


def image_split(names, seed: int = 0, test_frac: float = 0.2, val_frac: float = 0.1):
    """``(train, validation, test)`` lists of photo names: whole photos held out, seeded."""
    names = sorted(set(names))
    perm = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    nt, nv = int(round(test_frac * len(names))), int(round(val_frac * len(names)))
    return perm[nt + nv:], perm[nt:nt + nv], perm[:nt]




def split_scenes(scenes, seed: int = 0):
    """The boxed faces of Pascal VOC folders, ``{photo path: [(label, box)]}``, and the
    photos' paths split by :func:`image_split` into (train, validation, test)."""
    photos: dict = {}
    for s in load_datasets(scenes).samples:
        if s.box is not None:
            photos.setdefault(s.path, []).append((s.label, s.box))
    by_name = {Path(p).name: p for p in photos}
    return photos, tuple([by_name[n] for n in part] for part in image_split(by_name, seed))


def training_face_photos(faces, seed: int = 0) -> list[tuple[str, str]]:
    """``(path, label)`` of the face photos of a class-folder dataset that the detector may
    learn from: 30% of its near-duplicate groups (drawn with ``seed``) are held out."""
    data = load_datasets([faces])
    groups = sorted({s.group for s in data.samples})
    held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))
            [:int(round(0.3 * len(groups)))]}
    return [(s.path, s.label) for s in data.samples if s.group not in held]
