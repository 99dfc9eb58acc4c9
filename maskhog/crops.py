"""From a face box to the normalised crop the classifier sees.

This is the one rule shared by training and run time: a model learns what
its crops look like, so ``maskhog train`` and ``maskhog predict`` must cut
faces the same way. The rule's settings travel inside every model file.

The rule: take the square around the box's centre whose side is the box's
longer side, grow it by ``margin`` on every side, repeat the border pixels
where the square leaves the image, convert to gray (unless ``color`` is set:
the shipped SVM and the CNN stage see BGR colour), resize to ``size`` x ``size``
(area-averaging when shrinking, so small details do not alias) and, if
``clahe`` is set, even out the lighting with CLAHE (gray crops only).

The defaults (no margin, no CLAHE) scored best on held-out scene photos
(train/measure.py: macro F1 0.61 against 0.58 with a 10% margin and CLAHE);
dlib's face boxes match the scenes' annotated boxes in size (median ratio
1.02), so run-time crops look like training crops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .boxes import square_box

__all__ = ["CropSpec", "crop_faces", "MIN_SIZE", "MAX_SIZE"]

#: The crop sides a model file may ask for, in pixels (the shipped models use 64).
MIN_SIZE, MAX_SIZE = 8, 256


@dataclass(frozen=True)
class CropSpec:
    """How a face box becomes a crop.

    Attributes
    ----------
    size : int
        Side of the square crop in pixels.
    margin : float
        Fraction of the square's side added on each side.
    clahe : bool
        Apply contrast-limited adaptive histogram equalisation to the crop.
    color : bool
        Keep BGR colour: crops are ``(size, size, 3)`` (the CNN stage);
        otherwise gray ``(size, size)`` (the HOG + LBP features).
    """

    size: int = 64
    margin: float = 0.0
    clahe: bool = False
    color: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CropSpec":
        """The rule a model file's header gives; ``ValueError`` for values no trained model has
        (a header is data from a file: a forged ``size`` of 30000 must not allocate gigabytes)."""
        size, margin = d["size"], float(d["margin"])
        if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"crop size {size!r} is not a whole number from {MIN_SIZE} to {MAX_SIZE}")
        if not 0.0 <= margin <= 1.0:
            raise ValueError(f"crop margin {margin!r} is not from 0 to 1")
        return cls(size=size, margin=margin, clahe=bool(d["clahe"]), color=bool(d.get("color", False)))


def crop_faces(image: np.ndarray, boxes, spec: CropSpec = CropSpec()) -> np.ndarray:
    """Cut, square, gray and resize every face box of one image.

    Parameters
    ----------
    image : (H, W, 3) BGR or (H, W) gray uint8 ndarray
    boxes : sequence of (x1, y1, x2, y2)
        Pixel boxes; they may reach outside the image.
    spec : CropSpec

    Returns
    -------
    (N, size, size) uint8 ndarray, or (N, size, size, 3) with ``spec.color``
    """
    import cv2

    if spec.color:   # a gray image gives gray-looking colour crops
        gray = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    else:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape[:2]
    out = np.empty((len(boxes), spec.size, spec.size) + ((3,) if spec.color else ()), np.uint8)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)) if spec.clahe and not spec.color else None
    for i, box in enumerate(boxes):
        # A box may reach past the image (a face at the edge), but not without bound: a
        # forged 90000-px annotation would otherwise fill gigabytes with repeated border.
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        box = (min(max(x1, -w), 2 * w), min(max(y1, -h), 2 * h),
               min(max(x2, -w), 2 * w), min(max(y2, -h), 2 * h))
        cx, cy, side = square_box(box, spec.margin)
        side = max(side, 2.0)
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        n = int(round(side))
        # Cut what lies inside the image, then repeat its border for the rest.
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
        if ix1 <= ix0 or iy1 <= iy0:   # the box lies wholly outside the image
            region = np.full((n, n) + gray.shape[2:], int(gray.mean()), np.uint8)
        else:
            region = cv2.copyMakeBorder(gray[iy0:iy1, ix0:ix1], iy0 - y0, y0 + n - iy1,
                                        ix0 - x0, x0 + n - ix1, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if n > spec.size else cv2.INTER_LINEAR
        crop = cv2.resize(region, (spec.size, spec.size), interpolation=interp)
        out[i] = clahe.apply(crop) if clahe is not None else crop
    return out
