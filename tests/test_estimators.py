"""HogLbp inside ordinary scikit-learn pipelines, on real textures."""

import numpy as np
import pytest
from skimage import data
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from maskhog.training.estimators import HogLbp
from maskhog.features import hog_lbp_features


def patches(image, size=32, step=16):
    h, w = image.shape
    return np.stack([image[y:y + size, x:x + size]
                     for y in range(0, h - size + 1, step) for x in range(0, w - size + 1, step)])


@pytest.fixture(scope="module")
def textures():
    """32x32 patches of two photographed textures: brick and grass."""
    brick, grass = patches(data.brick()), patches(data.grass())
    rng = np.random.default_rng(0)
    brick = brick[rng.choice(len(brick), 150, replace=False)]
    grass = grass[rng.choice(len(grass), 150, replace=False)]
    return np.concatenate([brick, grass]), np.repeat([0, 1], 150)


def test_pipeline_learns_real_textures(textures):
    X, y = textures
    model = make_pipeline(HogLbp(crop_shape=(32, 32)), LinearSVC())
    scores = cross_val_score(model, X.reshape(len(X), -1), y, cv=3)
    assert scores.mean() > 0.9


def test_transform_accepts_stacks_and_flat_rows(textures):
    X, _ = textures
    est = HogLbp(crop_shape=(32, 32), lbp_grid=2).fit(X)
    assert est.n_features_in_ == 32 * 32
    np.testing.assert_array_equal(est.transform(X[:5]), hog_lbp_features(X[:5], lbp_grid=2))
    np.testing.assert_array_equal(est.transform(X[:5].reshape(5, -1)), est.transform(X[:5]))
    assert clone(est).get_params()["lbp_grid"] == 2
    with pytest.raises(ValueError, match="crop_shape"):
        HogLbp().transform(X)   # 32x32 crops, default crop_shape is 64x64
