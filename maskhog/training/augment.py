"""Random variations of training faces, so the model meets more than the camera saw.

Applied to training crops only, never to validation or test data. Each
variation is made from the source image around the face, before the crop
rule runs, so that a varied face is cropped, grayed and normalised exactly
as a face at run time is:

* box jitter (shift and scale, as a detector's boxes wobble),
* rotation (heads tilt),
* low resolution (faces in crowd scenes are 20-50 pixels: shrink and enlarge
  again, which teaches a model trained on portraits what a small face looks like),
* brightness, contrast and gamma; blur; JPEG re-compression,
* horizontal flip.

Rarer classes get more copies (``balance``): a few dozen incorrectly worn
masks among thousands of faces otherwise teach the model little.

Everything is drawn from a seeded ``numpy.random.Generator``: the same seed
gives the same training set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..boxes import square_box
from ..crops import CropSpec, crop_faces

__all__ = ["Augment", "augmented_crops"]


@dataclass(frozen=True)
class Augment:
    """Settings of the training-time variations (``copies=0`` turns them off)."""

    copies: int = 2          # varied copies per face, besides the face itself
    balance: bool = True     # rarer classes get proportionally more copies ...
    # ... up to this many. Balance asks some 50 copies of each incorrectly worn mask of
    # scenes/; 24 rather than 12 lifted that class's recall from 0.57 to 0.67 in the 3-class
    # cross-validation, macro F1 unchanged (train/README.md).
    max_copies: int = 24
    flip: bool = True
    rotate: float = 15.0     # largest tilt, degrees
    jitter: float = 0.08     # largest shift and scale change, fraction of the box
    lowres: float = 0.5      # probability of a small-face copy
    lowres_side: tuple = (16, 40)   # its face side in pixels, before enlarging
    photometric: bool = True
    blur: float = 0.2        # probability of a Gaussian blur
    jpeg: float = 0.3        # probability of JPEG re-compression at quality 30-90

    def to_dict(self) -> dict:
        return asdict(self)

    def copies_per_class(self, counts: dict) -> dict:
        """Copies per face of each class: rarer classes get more when ``balance`` is set."""
        if not counts:
            return {}
        most = max(counts.values())
        if not self.balance:
            return {c: self.copies for c in counts}
        return {c: min(self.max_copies, int(round(self.copies * most / n))) for c, n in counts.items()}


def augmented_crops(image: np.ndarray, box, spec: CropSpec, aug: Augment,
                    rng: np.random.Generator, n_copies: int | None = None) -> np.ndarray:
    """Varied crops of the face at ``box`` in a uint8 ``image`` (gray, or BGR for colour crops).

    Returns
    -------
    (n_copies, spec.size, spec.size[, 3]) uint8 ndarray
        ``n_copies`` defaults to ``aug.copies``.
    """
    import cv2

    n_copies = aug.copies if n_copies is None else n_copies
    out = np.empty((n_copies, spec.size, spec.size) + ((3,) if spec.color else ()), np.uint8)
    cx, cy, side = square_box(box, spec.margin)
    half = side * 0.85   # a patch with room for rotation and jitter
    x0, y0 = int(round(cx - half)), int(round(cy - half))
    n = max(int(round(2 * half)), 4)
    h, w = image.shape[:2]
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if ix1 <= ix0 or iy1 <= iy0:
        return crop_faces(image, [box] * n_copies, spec)
    patch = cv2.copyMakeBorder(image[iy0:iy1, ix0:ix1], iy0 - y0, y0 + n - iy1,
                               ix0 - x0, x0 + n - ix1, cv2.BORDER_REPLICATE)
    bx1, by1, bx2, by2 = (float(v) for v in box)
    bw, bh = bx2 - bx1, by2 - by1
    local = np.array([bx1 - x0, by1 - y0, bx2 - x0, by2 - y0])

    for i in range(n_copies):
        p = patch
        if aug.rotate:
            angle = rng.uniform(-aug.rotate, aug.rotate)
            m = cv2.getRotationMatrix2D((n / 2, n / 2), angle, 1.0)
            p = cv2.warpAffine(p, m, (n, n), borderMode=cv2.BORDER_REPLICATE)
        b = local.copy()
        if aug.jitter:
            j = aug.jitter
            dx, dy = rng.uniform(-j, j) * bw, rng.uniform(-j, j) * bh
            s = 1 + rng.uniform(-j, j)
            ccx, ccy = (b[0] + b[2]) / 2 + dx, (b[1] + b[3]) / 2 + dy
            b = np.array([ccx - s * bw / 2, ccy - s * bh / 2, ccx + s * bw / 2, ccy + s * bh / 2])
        if aug.lowres and rng.random() < aug.lowres:
            face = max(bw, bh)
            target = rng.uniform(*aug.lowres_side)
            if face > target:
                f = target / face
                small = cv2.resize(p, (max(2, int(n * f)), max(2, int(n * f))), interpolation=cv2.INTER_AREA)
                p = cv2.resize(small, (n, n), interpolation=cv2.INTER_LINEAR)
        if aug.photometric:
            alpha, beta = rng.uniform(0.7, 1.3), rng.uniform(-30, 30)
            gamma = rng.uniform(0.7, 1.4)
            lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma * alpha + beta, 0, 255)
            p = lut.astype(np.uint8)[p]
        if aug.blur and rng.random() < aug.blur:
            p = cv2.GaussianBlur(p, (0, 0), rng.uniform(0.5, 1.5))
        if aug.jpeg and rng.random() < aug.jpeg:
            ok, buf = cv2.imencode(".jpg", p, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
            p = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else p
        crop = crop_faces(p, [b], spec)[0]
        out[i] = crop[:, ::-1] if aug.flip and rng.random() < 0.5 else crop
    return out
