"""A scikit-learn transformer around :func:`maskhog.features.hog_lbp_features`."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..features import as_pair, hog_lbp_features

__all__ = ["HogLbp"]


class HogLbp(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: grayscale crops in, HOG + LBP features out.

    Lets a model be written as ``make_pipeline(HogLbp(), LinearSVC())`` and
    tuned with ``GridSearchCV`` or ``StratifiedGroupKFold`` unchanged.

    Parameters
    ----------
    crop_shape : (int, int), default (64, 64)
        Height and width of the crops. ``X`` may be ``(N, H, W)`` or
        flattened ``(N, H * W)``.
    orientations, pixels_per_cell, cells_per_block, block_norm, lbp_grid
        As for :func:`hog_lbp_features`.

    Attributes
    ----------
    n_features_in_ : int
        ``H * W``, the number of pixels per crop.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import LinearSVC
    >>> model = make_pipeline(HogLbp(crop_shape=(64, 64)), LinearSVC())
    """

    def __init__(self, *, crop_shape=(64, 64), orientations=9, pixels_per_cell=(8, 8),
                 cells_per_block=(2, 2), block_norm="L2-Hys", lbp_grid=(4, 4)):
        self.crop_shape = crop_shape
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.lbp_grid = lbp_grid

    def _crops(self, X):
        h, w = as_pair(self.crop_shape, "crop_shape")
        X = np.asarray(X)
        if X.ndim == 2 and X.shape[1] == h * w:
            return X.reshape(-1, h, w)
        if X.ndim == 3 and X.shape[1:] == (h, w):
            return X
        raise ValueError(
            f"expected crops of shape (N, {h}, {w}) or flattened (N, {h * w}); "
            f"got {X.shape}. Set crop_shape to the size of your crops."
        )

    def fit(self, X, y=None):
        """Check the settings on ``X``; nothing is learned."""
        crops = self._crops(X)
        hog_lbp_features(crops[:1], **self._params())
        self.n_features_in_ = crops.shape[1] * crops.shape[2]
        return self

    def transform(self, X):
        """Return the ``(N, D)`` float32 features of the crops in ``X``."""
        return hog_lbp_features(self._crops(X), **self._params())

    def _params(self):
        return dict(orientations=self.orientations, pixels_per_cell=self.pixels_per_cell,
                    cells_per_block=self.cells_per_block, block_norm=self.block_norm,
                    lbp_grid=self.lbp_grid)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
