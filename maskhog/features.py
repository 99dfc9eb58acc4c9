"""HOG and uniform-LBP features of gray face crops, and colour cues of colour ones.

The public functions here validate their input, then hand whole batches to
the compiled kernels in :mod:`maskhog._features` (the only module that
imports them). The results equal scikit-image's ``skimage.feature.hog`` and
``skimage.feature.local_binary_pattern(P=8, R=1, method='uniform')``, and are
an order of magnitude faster than OpenCV's ``HOGDescriptor``. The colour
cues (:func:`color_features`: how much skin shows where, and the mean
chroma) equal OpenCV's YCrCb conversion followed by a skin-colour box test.
:func:`face_features` puts them together as the mask classifier sees them.

Examples
--------
>>> import numpy as np
>>> from maskhog.features import hog_lbp_features
>>> crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64), dtype=np.uint8)
>>> hog_lbp_features(crops).shape
(5, 1924)

References
----------
.. [1] N. Dalal and B. Triggs, "Histograms of Oriented Gradients for Human
       Detection", CVPR 2005. :DOI:`10.1109/CVPR.2005.177`
.. [2] T. Ojala, M. Pietikainen and T. Maenpaa, "Multiresolution gray-scale
       and rotation invariant texture classification with local binary
       patterns", IEEE TPAMI 24(7), 2002. :DOI:`10.1109/TPAMI.2002.1017623`
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

__all__ = [
    "as_pair",
    "check_settings",
    "color_features",
    "color_length",
    "face_features",
    "gray_crops",
    "hog",
    "hog_length",
    "hog_lbp_features",
    "lbp_codes",
    "lbp_histograms",
    "LBP_CODES",
    "SIMD",
    "SKIN_CB",
    "SKIN_CR",
]

#: Number of uniform LBP codes for P=8: 0..8 ones in a uniform pattern, plus 9 for the rest.
LBP_CODES = 10

_NORMS = {"L1": 0, "L1-sqrt": 1, "L2": 2, "L2-Hys": 3}


def _cpu_has_avx2() -> bool:
    """Whether this CPU runs AVX2 and FMA code, as NumPy's own dispatcher sees it."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return False
    return bool(__cpu_features__.get("AVX2") and __cpu_features__.get("FMA3"))


def _load_kernels():
    """The compiled kernels for this CPU: the AVX2 build when it can run here.

    Set ``MASKHOG_SIMD=baseline`` to force the portable build (for comparison).
    """
    if os.environ.get("MASKHOG_SIMD", "auto") != "baseline" and _cpu_has_avx2():
        try:
            from . import _features_avx2
            return _features_avx2, "avx2"
        except ImportError:  # built with MASKHOG_NO_AVX2=1
            pass
    try:
        from . import _features
    except ImportError as exc:  # pragma: no cover - only without a build
        raise ImportError(
            "maskhog's compiled feature extractor is missing. Install the package "
            "with `pip install .` (it builds maskhog/_features.pyx), or build it in "
            "place with `python setup.py build_ext --inplace`."
        ) from exc
    return _features, "baseline"


#: Which build of the kernels runs here: "avx2" or "baseline".
_features, SIMD = _load_kernels()


# ------------------------------------------------------------ input checks --

def _as_batch(crops) -> tuple[np.ndarray, bool]:
    """Return ``crops`` as a C-contiguous ``(N, H, W)`` uint8 or float64 array.

    The second value says whether a single ``(H, W)`` crop was given.
    """
    try:
        arr = np.asarray(crops)
    except ValueError as exc:  # a ragged list of crops
        raise ValueError("all crops in a batch must have the same shape") from exc
    if arr.dtype == object:
        raise ValueError("all crops in a batch must have the same shape")
    if arr.ndim not in (2, 3):
        raise ValueError(
            "expected one grayscale crop (H, W) or a batch of them (N, H, W); "
            f"got an array of shape {arr.shape}"
        )
    single = arr.ndim == 2
    if single:
        arr = arr[np.newaxis]
    if arr.shape[0] == 0:
        raise ValueError("empty batch: there are no crops to describe")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"crops have no pixels (shape {arr.shape[1:]})")

    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        pass
    elif kind in "ui":
        arr = arr.astype(np.float64)
    elif kind == "f":
        arr = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr).all():
            raise ValueError("crops contain NaN or infinite values")
    else:
        raise TypeError(
            f"crops must be grayscale numbers (uint8 preferred, or float); got dtype {arr.dtype}"
        )
    # Accept views, slices and read-only arrays: the kernels need C order only.
    return np.ascontiguousarray(arr), single


def as_pair(value, name: str) -> tuple[int, int]:
    """``value`` as two positive ints: an int for both, or a pair; ``ValueError`` naming ``name``."""
    try:
        a, b = (value, value) if np.isscalar(value) else value
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return a, b


class _HogSettings:
    """Validated HOG parameters and the bin-edge table the kernel uses."""

    def __init__(self, orientations, pixels_per_cell, cells_per_block, block_norm):
        if int(orientations) != orientations or not 1 <= orientations <= 180:
            raise ValueError(f"orientations must be an int in [1, 180], got {orientations!r}")
        if block_norm not in _NORMS:
            raise ValueError(f"block_norm must be one of {sorted(_NORMS)}, got {block_norm!r}")
        self.orientations = int(orientations)
        self.cell = as_pair(pixels_per_cell, "pixels_per_cell")
        self.block = as_pair(cells_per_block, "cells_per_block")
        self.norm = _NORMS[block_norm]
        self.cos_e, self.sin_e = _bin_edges(self.orientations)

    def grid(self, shape) -> tuple[int, int]:
        """Cells along each axis for a crop of ``shape``; raise if not one block fits."""
        h, w = shape
        n_r, n_c = h // self.cell[0], w // self.cell[1]
        if n_r < self.block[0] or n_c < self.block[1]:
            need = (self.cell[0] * self.block[0], self.cell[1] * self.block[1])
            raise ValueError(
                f"crops of {h}x{w} px are smaller than one HOG block "
                f"({need[0]}x{need[1]} px with pixels_per_cell={self.cell} and "
                f"cells_per_block={self.block}). A colour image must be converted "
                "to grayscale first."
            )
        return n_r, n_c

    def length(self, shape) -> int:
        n_r, n_c = self.grid(shape)
        return ((n_r - self.block[0] + 1) * (n_c - self.block[1] + 1)
                * self.block[0] * self.block[1] * self.orientations)

    def kernel_args(self):
        return (self.orientations, *self.cell, *self.block, self.norm, self.cos_e, self.sin_e)


@lru_cache(maxsize=64)
def _bin_edges(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and sine of every bin edge after 0 degrees.

    The edges are computed in float32 exactly as scikit-image computes them, so
    a gradient on the far side of an edge lands in the same bin. An edge at
    180 degrees is left out: no folded gradient reaches it.
    """
    step = np.float32(180.0 / orientations)
    edges = np.array([np.float32(step * np.float32(k)) for k in range(1, orientations + 1)],
                     dtype=np.float64)
    edges = edges[edges < 180.0]
    theta = np.deg2rad(edges)
    return np.ascontiguousarray(np.cos(theta)), np.ascontiguousarray(np.sin(theta))


def _lbp_plan(h: int, w: int, grid: tuple[int, int]):
    return _lbp_plan_for(_features, h, w, grid)


@lru_cache(maxsize=64)
def _lbp_plan_for(kernels, h: int, w: int, grid: tuple[int, int]):
    """Per-shape tables of the LBP kernel: interpolation weights, uniform codes, cells."""
    grid_r, grid_c = grid
    if grid_r > h or grid_c > w:
        raise ValueError(f"an LBP grid of {grid_r}x{grid_c} cells does not fit a {h}x{w} crop")
    # Neighbour positions exactly as scikit-image computes them (P=8, R=1);
    # the diagonal ones (1, 3, 5, 7) share two row and two column offsets.
    k = np.arange(8, dtype=np.float64)
    rp = np.round(-np.sin(2 * np.pi * k / 8), 5)
    cp = np.round(np.cos(2 * np.pi * k / 8), 5)
    assert rp[1] == rp[3] < 0 < rp[5] == rp[7] and cp[3] == cp[5] < 0 < cp[1] == cp[7]

    def fraction(positions):  # bilinear weight of the far sample, as scikit-image has it
        return np.ascontiguousarray(positions - np.floor(positions))

    rows, cols = np.arange(h), np.arange(w)
    dr_up, dr_down = fraction(rows + rp[1]), fraction(rows + rp[5])
    dc_right, dc_left = fraction(cols + cp[1]), fraction(cols + cp[3])

    bits = (np.arange(256)[:, np.newaxis] >> np.arange(8)) & 1
    changes = np.abs(np.diff(bits, axis=1)).sum(axis=1)   # not circular, as in scikit-image
    uniform_code = np.where(changes <= 2, bits.sum(axis=1), 9).astype(np.uint8)

    row_cell = (np.arange(h) * grid_r // h).astype(np.intp)
    col_cell = (np.arange(w) * grid_c // w).astype(np.intp)
    area = np.outer(np.bincount(row_cell, minlength=grid_r),
                    np.bincount(col_cell, minlength=grid_c)).ravel()
    inv_area = (1.0 / area).astype(np.float32)
    return kernels._LbpPlan(dr_up, dr_down, dc_right, dc_left, uniform_code,
                              grid_r, grid_c, row_cell, col_cell, inv_area)


# -------------------------------------------------------------- public API --

def hog_length(shape=(64, 64), *, orientations=9, pixels_per_cell=(8, 8),
               cells_per_block=(2, 2)) -> int:
    """Length of the HOG vector of a crop of ``shape`` (1764 for 64x64 and the defaults)."""
    return _HogSettings(orientations, pixels_per_cell, cells_per_block, "L2-Hys").length(shape)


def hog(crops, *, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
        block_norm="L2-Hys"):
    """Histograms of oriented gradients (Dalal & Triggs), as scikit-image defines them.

    Centred [-1, 0, 1] gradients, unsigned orientations in ``orientations``
    bins, cells of ``pixels_per_cell`` pixels, overlapping blocks of
    ``cells_per_block`` cells, each block normalised. Pixels beyond the last
    whole cell are ignored.

    Parameters
    ----------
    crops : (H, W) or (N, H, W) array_like
        One grayscale crop or a batch of equal-size crops. uint8 is the fast
        path; other integer and float dtypes are accepted (floats must be
        finite).
    orientations : int, default 9
        Number of orientation bins over 0-180 degrees.
    pixels_per_cell : int or (int, int), default (8, 8)
    cells_per_block : int or (int, int), default (2, 2)
    block_norm : {'L2-Hys', 'L2', 'L1', 'L1-sqrt'}, default 'L2-Hys'

    Returns
    -------
    (D,) or (N, D) float32 ndarray
        Equal to ``skimage.feature.hog(crop, ..., feature_vector=True)`` within
        1e-5; blocks in row-major order, then cells, then orientations.

    Raises
    ------
    ValueError
        Wrong shape, empty batch, crops smaller than one block, NaN values.
    TypeError
        A dtype that is not a number (bool, complex, object).
    """
    settings = _HogSettings(orientations, pixels_per_cell, cells_per_block, block_norm)
    batch, single = _as_batch(crops)
    out = np.empty((batch.shape[0], settings.length(batch.shape[1:])), dtype=np.float32)
    _features.hog_batch(batch, out, *settings.kernel_args())
    return out[0] if single else out


def lbp_codes(crops):
    """Uniform local binary pattern codes (P=8, R=1) of each pixel.

    Parameters
    ----------
    crops : (H, W) or (N, H, W) array_like
        Grayscale crop(s), as for :func:`hog`.

    Returns
    -------
    (H, W) or (N, H, W) uint8 ndarray
        Codes 0-8 count the neighbours at least as bright as the centre in a
        uniform pattern; 9 marks the other patterns. Equal to
        ``skimage.feature.local_binary_pattern(crop, 8, 1, 'uniform')``,
        borders included (outside the image counts as 0).
    """
    batch, single = _as_batch(crops)
    out = np.empty(batch.shape, dtype=np.uint8)
    _features.lbp_codes_batch(batch, out, _lbp_plan(*batch.shape[1:], (1, 1)))
    return out[0] if single else out


def lbp_histograms(crops, *, grid=(4, 4)):
    """Histograms of uniform LBP codes over a grid of cells.

    Parameters
    ----------
    crops : (H, W) or (N, H, W) array_like
        Grayscale crop(s), as for :func:`hog`.
    grid : int or (int, int), default (4, 4)
        Cells along rows and columns. Cell edges fall at ``k * H // rows``.

    Returns
    -------
    (rows * cols * 10,) or (N, rows * cols * 10) float32 ndarray
        Cells in row-major order, each cell's 10 bins in code order, each
        cell's histogram summing to 1.
    """
    grid = as_pair(grid, "grid")
    batch, single = _as_batch(crops)
    out = np.empty((batch.shape[0], grid[0] * grid[1] * LBP_CODES), dtype=np.float32)
    _features.lbp_hist_batch(batch, out, _lbp_plan(*batch.shape[1:], grid), 0)
    return out[0] if single else out


def hog_lbp_features(crops, *, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                     block_norm="L2-Hys", lbp_grid=(4, 4)):
    """HOG followed by LBP histograms: the feature vector maskhog classifies.

    Each crop is described in one pass while it is hot in the cache, and the
    whole batch runs without the GIL, so threads that split a batch scale.

    Parameters
    ----------
    crops : (H, W) or (N, H, W) array_like
        Grayscale crop(s), as for :func:`hog`; a batch of uint8 crops is the
        fast path.
    orientations, pixels_per_cell, cells_per_block, block_norm
        As for :func:`hog`.
    lbp_grid : int or (int, int), default (4, 4)
        As ``grid`` for :func:`lbp_histograms`.

    Returns
    -------
    (D,) or (N, D) float32 ndarray
        ``[hog(crop), lbp_histograms(crop)]``: 1764 + 160 = 1924 values for a
        64x64 crop and the defaults.
    """
    settings = _HogSettings(orientations, pixels_per_cell, cells_per_block, block_norm)
    grid = as_pair(lbp_grid, "lbp_grid")
    batch, single = _as_batch(crops)
    n_hog = settings.length(batch.shape[1:])
    out = np.empty((batch.shape[0], n_hog + grid[0] * grid[1] * LBP_CODES), dtype=np.float32)
    _features.hog_lbp_batch(batch, out, *settings.kernel_args(),
                            _lbp_plan(*batch.shape[1:], grid), n_hog)
    return out[0] if single else out


# ------------------------------------------------------------ colour cues --

#: The skin box in the Cr-Cb plane (inclusive), after D. Chai and K. N. Ngan [3]_.
SKIN_CR = (133, 173)
SKIN_CB = (77, 127)


def _as_color_batch(crops) -> tuple[np.ndarray, bool]:
    """Return ``crops`` as a C-contiguous ``(N, H, W, 3)`` uint8 BGR array, and whether one was given."""
    arr = np.asarray(crops)
    if arr.dtype != np.uint8:
        raise TypeError(f"colour crops must be uint8 BGR, got dtype {arr.dtype}")
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise ValueError("expected one BGR crop (H, W, 3) or a batch of them (N, H, W, 3); "
                         f"got an array of shape {arr.shape}")
    single = arr.ndim == 3
    if single:
        arr = arr[np.newaxis]
    if arr.shape[0] == 0:
        raise ValueError("empty batch: there are no crops to describe")
    return np.ascontiguousarray(arr), single


def color_features(crops, *, skin_cell=8, chroma_grid=4):
    """Where the skin shows, and the mean chroma, over a grid on each colour crop.

    A mask hides the skin of the lower face; gray HOG and LBP see its edges
    and texture but not its colour. Each pixel is converted to YCrCb exactly as
    OpenCV's ``cv2.COLOR_BGR2YCrCb`` does (8-bit, BT.601) and counted as skin
    when its chroma lies in the box ``Cr`` in :data:`SKIN_CR`, ``Cb`` in
    :data:`SKIN_CB` [3]_, which ignores brightness.

    Parameters
    ----------
    crops : (H, W, 3) or (N, H, W, 3) uint8 array_like
        BGR crop(s).
    skin_cell : int, default 8
        Side of the square cells whose skin share is measured (the HOG cell).
    chroma_grid : int, default 4
        Cells per side of the grid whose mean Cr and Cb are measured (the LBP grid).

    Returns
    -------
    (D,) or (N, D) float32 ndarray
        The share of skin pixels in each ``skin_cell`` cell (row-major), then
        the mean Cr, then the mean Cb of each ``chroma_grid`` cell, scaled to
        0..1: 64 + 16 + 16 = 96 values for a 64x64 crop and the defaults.
        Pixels beyond the last whole cell are ignored, as in :func:`hog`.

    References
    ----------
    .. [3] D. Chai and K. N. Ngan, "Face segmentation using skin-color map in
           videophone applications", IEEE TCSVT 9(4), 1999. :DOI:`10.1109/76.767122`
    """
    batch, single = _as_color_batch(crops)
    h, w = batch.shape[1:3]
    cell, grid = int(skin_cell), int(chroma_grid)
    if cell < 1 or grid < 1 or h < max(cell, grid) or w < max(cell, grid):
        raise ValueError(f"crops of {h}x{w} px cannot hold skin cells of {skin_cell} px "
                         f"and a {chroma_grid}x{chroma_grid} chroma grid")
    out = np.empty((batch.shape[0], color_length((h, w), skin_cell=cell, chroma_grid=grid)),
                   np.float32)
    bounds = np.array([*SKIN_CR, *SKIN_CB], np.intc)
    _features.color_batch(batch, out, cell, grid, bounds)
    return out[0] if single else out


def color_length(shape=(64, 64), *, skin_cell=8, chroma_grid=4) -> int:
    """Length of :func:`color_features` for crops of ``shape``."""
    h, w = shape
    return (h // skin_cell) * (w // skin_cell) + 2 * chroma_grid * chroma_grid


def gray_crops(crops) -> np.ndarray:
    """Gray versions of BGR crops, ``(..., H, W, 3) -> (..., H, W)``.

    The batch is converted as one tall image by :func:`maskhog.io.to_gray`, so
    crops turn gray exactly as whole frames do.
    """
    from .io import to_gray

    batch, single = _as_color_batch(crops)
    n, h, w, _ = batch.shape
    gray = to_gray(batch.reshape(n * h, w, 3)).reshape(n, h, w)
    return gray[0] if single else gray


#: The bounds a model file's feature settings must keep: each value a whole number in its
#: range (a forged ``orientations: 10**9`` must be refused, not allocated).
_SETTING_RANGES = {"orientations": (1, 36), "pixels_per_cell": (2, 64), "cells_per_block": (1, 8),
                   "lbp_grid": (1, 16), "skin_cell": (1, 64), "chroma_grid": (1, 16)}


def check_settings(settings: dict) -> None:
    """Refuse feature settings (the ``features`` of a model file's header) that
    :func:`face_features` does not take, or whose values no model would use.

    Raises
    ------
    ValueError
        Naming the setting and its allowed values.
    """
    if not isinstance(settings, dict):
        raise ValueError(f"feature settings must be a table, not {type(settings).__name__}")
    color = settings.get("color")
    if color is not None and not isinstance(color, dict):
        raise ValueError("the colour settings must be a table")
    for name, value in [*settings.items(), *(color or {}).items()]:
        if name in ("color", "mirror"):
            if name == "mirror" and not isinstance(value, bool):
                raise ValueError(f"feature setting mirror must be true or false, not {value!r}")
            continue
        if name == "block_norm":
            if value not in _NORMS:
                raise ValueError(f"unknown block_norm {value!r}")
            continue
        if name not in _SETTING_RANGES:
            raise ValueError(f"unknown feature setting {name!r}")
        low, high = _SETTING_RANGES[name]
        values = value if isinstance(value, (list, tuple)) and len(value) == 2 else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in values):
            raise ValueError(f"feature setting {name} = {value!r}: whole numbers from {low} to {high} only")


def face_features(crops, *, color=None, mirror=False, **hog_lbp):
    """The vector the mask classifier sees: HOG + LBP of the gray crop, then its colour cues.

    Parameters
    ----------
    crops : array_like
        Gray ``(N, H, W)`` crops, or BGR ``(N, H, W, 3)`` uint8 crops. A single
        crop may drop the leading axis; a single BGR ``(H, W, 3)`` crop only
        when ``color`` is given (without it, that shape reads as gray crops).
    color : dict, optional
        Keyword arguments of :func:`color_features`; when given (even empty),
        the crops must be in colour and their colour cues are appended.
    mirror : bool, default False
        Describe each crop by the mean of its vector and its mirror image's.
        A face and its mirror image then get one vector, so a linear score
        cannot depend on which way a face turns: on faces/ the mask
        classifier's 5-fold group CV rises from 0.968 to 0.973 (docs/design.md#mirror-features).
    **hog_lbp
        Keyword arguments of :func:`hog_lbp_features`.

    Returns
    -------
    (D,) or (N, D) float32 ndarray
    """
    arr = np.asarray(crops)
    colored = arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] == 3 and color is not None)
    if color is not None and not colored:
        raise ValueError("this model's features include colour cues: it needs BGR crops "
                         f"(N, H, W, 3), got an array of shape {arr.shape}")
    if mirror:
        flipped = arr[..., ::-1, :] if colored else arr[..., ::-1]   # left-right, any batch shape
        return (face_features(arr, color=color, **hog_lbp)
                + face_features(flipped, color=color, **hog_lbp)) / np.float32(2)
    if not colored:
        return hog_lbp_features(arr, **hog_lbp)
    texture = hog_lbp_features(gray_crops(arr), **hog_lbp)
    if color is None:
        return texture
    return np.concatenate([texture, color_features(arr, **color)], axis=-1)
