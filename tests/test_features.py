"""maskhog.features against scikit-image, on real photographs and random arrays."""

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.feature import hog as sk_hog
from skimage.feature import local_binary_pattern

from maskhog import features
from maskhog.features import hog, hog_lbp_features, lbp_codes, lbp_histograms

RNG = np.random.default_rng(2024)


def sk_lbp(image):
    return local_binary_pattern(image, 8, 1, "uniform").astype(np.uint8)


def sk_hist(image, grid=(4, 4)):
    """Reference LBP histograms from scikit-image's codes and our documented cell edges."""
    codes = sk_lbp(image)
    h, w = codes.shape
    rows = np.arange(h) * grid[0] // h
    cols = np.arange(w) * grid[1] // w
    out = []
    for i in range(grid[0]):
        for j in range(grid[1]):
            cell = codes[np.ix_(rows == i, cols == j)]
            out.append(np.bincount(cell.ravel(), minlength=10) / cell.size)
    return np.concatenate(out)


# ---------------------------------------------------------------- HOG ----

@pytest.mark.parametrize("shape", [(64, 64), (96, 96), (67, 45), (33, 120), (16, 16)])
def test_hog_equals_skimage_on_random_arrays(kernels, shape):
    for image in (RNG.integers(0, 256, shape, dtype=np.uint8), RNG.random(shape)):
        expected = sk_hog(image, 9, (8, 8), (2, 2), "L2-Hys")
        np.testing.assert_allclose(hog(image), expected, atol=1e-5, rtol=0)


def test_hog_equals_skimage_on_photographs(kernels, face_crops):
    for crop in face_crops:
        expected = sk_hog(crop, 9, (8, 8), (2, 2), "L2-Hys")
        ours = hog(crop)
        assert ours.dtype == np.float32 and ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("orientations, cell, block, norm", [
    (6, (8, 8), (2, 2), "L2-Hys"),
    (12, (6, 6), (3, 3), "L2"),
    (9, (8, 6), (1, 2), "L1"),
    (4, (4, 4), (2, 2), "L1-sqrt"),
    (18, (16, 16), (1, 1), "L2-Hys"),
    (7, (8, 8), (2, 2), "L2-Hys"),    # bin edges that are not whole numbers in float32
])
def test_hog_parameters_follow_skimage(kernels, photos, orientations, cell, block, norm):
    image = photos["camera"][100:197, 300:381]   # 97x81: pixels past the last cell are ignored
    expected = sk_hog(image, orientations, cell, block, norm)
    ours = hog(image, orientations=orientations, pixels_per_cell=cell,
               cells_per_block=block, block_norm=norm)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def _skimage_bin(gc, gr, orientations):
    """The bin scikit-image's _hoghistogram gives a gradient (-1: none), vectorised."""
    ori = np.rad2deg(np.arctan2(gr, gc)) % 180
    step = np.float32(180.0 / orientations)
    edges = [float(np.float32(step * np.float32(i))) for i in range(orientations + 1)]
    out = np.full(ori.shape, -1)
    for i in range(orientations):
        out[(ori >= edges[i]) & (ori < edges[i + 1])] = i
    return out


@pytest.mark.parametrize("orientations", [9, 4, 6])
def test_every_8bit_gradient_lands_in_skimages_bin(kernels, orientations):
    # One 3x3 image per gradient (gc, gr) in [-255, 255]^2 at its centre pixel;
    # with 1x1 cells and L1 blocks the centre cell is 1 at its bin, 0 elsewhere.
    g = np.arange(-255, 256)
    gc, gr = (a.ravel() for a in np.meshgrid(g, g))
    images = np.zeros((gc.size, 3, 3), dtype=np.uint8)
    images[:, 1, 0] = np.maximum(0, -gc)
    images[:, 1, 2] = images[:, 1, 0] + gc
    images[:, 0, 1] = np.maximum(0, -gr)
    images[:, 2, 1] = images[:, 0, 1] + gr
    centre = hog(images, orientations=orientations, pixels_per_cell=1, cells_per_block=1,
                 block_norm="L1")[:, 4 * orientations:5 * orientations]
    moving = (gc != 0) | (gr != 0)
    expected = _skimage_bin(gc.astype(float), gr.astype(float), orientations)
    assert (expected[moving] >= 0).all()
    np.testing.assert_array_equal(centre[moving].argmax(axis=1), expected[moving])
    assert (centre[~moving] == 0).all()
    # And a sample straight through scikit-image itself.
    for k in RNG.choice(gc.size, 300, replace=False):
        ref = sk_hog(images[k], orientations, (1, 1), (1, 1), "L1")
        np.testing.assert_allclose(hog(images[k], orientations=orientations, pixels_per_cell=1,
                                       cells_per_block=1, block_norm="L1"), ref, atol=1e-5)


def test_hog_length_and_flat_image():
    assert features.hog_length((64, 64)) == 1764
    assert features.hog_length((96, 96)) == 4356
    # No gradient anywhere: every block is zero, not NaN (eps keeps it finite).
    assert not hog(np.full((64, 64), 128, np.uint8)).any()


# ---------------------------------------------------------------- LBP ----

def test_lbp_codes_equal_skimage_on_photographs(kernels, photos, face_crops):
    for image in [*photos.values(), *face_crops]:
        np.testing.assert_array_equal(lbp_codes(image), sk_lbp(image))


@pytest.mark.parametrize("shape", [(64, 64), (31, 17), (1, 1), (2, 5), (5, 2)])
def test_lbp_codes_equal_skimage_including_ties(kernels, shape):
    # Few grey levels make many exact ties between a neighbour and the centre,
    # where the interpolated value must round exactly as scikit-image's does.
    for levels in (2, 3, 256):
        image = RNG.integers(0, levels, shape, dtype=np.uint8)
        np.testing.assert_array_equal(lbp_codes(image), sk_lbp(image))
    flat = np.full(shape, 77, np.uint8)
    np.testing.assert_array_equal(lbp_codes(flat), sk_lbp(flat))


def test_lbp_codes_of_float_images(kernels, photos):
    image = photos["coins"][:40, :60].astype(np.float64)
    with pytest.warns(UserWarning, match="floating-point"):
        expected = sk_lbp(image)
    np.testing.assert_array_equal(lbp_codes(image), expected)


def test_lbp_histograms_follow_the_documented_grid(kernels, face_crops):
    for crop in face_crops:
        ours = lbp_histograms(crop)
        np.testing.assert_allclose(ours, sk_hist(crop), atol=1e-6)
        np.testing.assert_allclose(ours.reshape(16, 10).sum(axis=1), 1, atol=1e-5)
    crop = face_crops[0]
    np.testing.assert_allclose(lbp_histograms(crop, grid=(2, 3)), sk_hist(crop, (2, 3)), atol=1e-6)


def test_combined_features_are_hog_then_lbp(kernels, face_crops):
    batch = np.stack([face_crops[0], face_crops[0][::-1], face_crops[0].T.copy()])
    both = hog_lbp_features(batch)
    assert both.shape == (3, 1764 + 160) and both.dtype == np.float32
    np.testing.assert_array_equal(both[:, :1764], hog(batch))
    np.testing.assert_array_equal(both[:, 1764:], lbp_histograms(batch))
    np.testing.assert_array_equal(hog_lbp_features(batch[1]), both[1])


def test_threads_give_the_serial_result(kernels):
    batch = RNG.integers(0, 256, (64, 64, 64), dtype=np.uint8)
    serial = hog_lbp_features(batch)
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(hog_lbp_features, np.array_split(batch, 8)))
    np.testing.assert_array_equal(np.concatenate(parts), serial)


# --------------------------------------------------------- bad input ----

@pytest.mark.parametrize("func", [hog, lbp_histograms, hog_lbp_features, lbp_codes])
def test_bad_input_gives_clear_errors(func):
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        func(np.zeros(64, np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        func(np.zeros((2, 2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match="empty batch"):
        func(np.zeros((0, 64, 64), np.uint8))
    with pytest.raises(TypeError, match="dtype bool"):
        func(np.zeros((64, 64), bool))
    with pytest.raises(TypeError, match="complex"):
        func(np.zeros((64, 64), complex))
    with pytest.raises(ValueError, match="NaN"):
        func(np.full((64, 64), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite"):
        func(np.full((64, 64), np.inf, np.float32))
    with pytest.raises(ValueError, match="same shape"):
        func([np.zeros((64, 64), np.uint8), np.zeros((32, 32), np.uint8)])


def test_crops_smaller_than_a_block_are_refused():
    with pytest.raises(ValueError, match="smaller than one HOG block"):
        hog(np.zeros((15, 64), np.uint8))
    with pytest.raises(ValueError, match="convert.*grayscale"):
        hog(np.zeros((64, 64, 3), np.uint8))   # a colour image, read as 64 crops of 64x3
    with pytest.raises(ValueError, match="does not fit"):
        lbp_histograms(np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="orientations"):
        hog(np.zeros((64, 64), np.uint8), orientations=0)
    with pytest.raises(ValueError, match="block_norm"):
        hog(np.zeros((64, 64), np.uint8), block_norm="L3")


def test_views_read_only_and_other_dtypes_are_accepted(face_crops):
    big = np.ascontiguousarray(np.repeat(face_crops[1], 2, axis=1))   # 96x192
    view = big[:, ::2]                                                  # not contiguous
    assert not view.flags.c_contiguous
    readonly = face_crops[1].copy()
    readonly.setflags(write=False)
    expected = hog_lbp_features(face_crops[1])
    np.testing.assert_array_equal(hog_lbp_features(view), expected)
    np.testing.assert_array_equal(hog_lbp_features(readonly), expected)
    np.testing.assert_allclose(hog_lbp_features(face_crops[1].astype(np.int32)), expected, atol=1e-5)
    np.testing.assert_allclose(hog_lbp_features(face_crops[1] / 255.0)[:1764], expected[:1764],
                               atol=1e-5)
    np.testing.assert_array_equal(hog_lbp_features([face_crops[1], face_crops[1]])[1], expected)


# ------------------------------------------------------------ colour cues --

def _opencv_color_cues(crops, cell=8, grid=4):
    """The documented definition, written with OpenCV and NumPy (slow, obvious)."""
    n, h, w, _ = crops.shape
    ycc = cv2.cvtColor(crops.reshape(n * h, w, 3), cv2.COLOR_BGR2YCrCb).reshape(n, h, w, 3)
    skin = cv2.inRange(ycc.reshape(n * h, w, 3), (0, 133, 77), (255, 173, 127)).reshape(n, h, w) / 255
    sr, sc = h // cell, w // cell
    share = skin[:, :sr * cell, :sc * cell].reshape(n, sr, cell, sc, cell).mean(axis=(2, 4))
    gh, gw = h // grid, w // grid
    chroma = ycc[:, :grid * gh, :grid * gw, 1:].reshape(n, grid, gh, grid, gw, 2).mean(axis=(2, 4)) / 255
    return np.hstack([share.reshape(n, -1), chroma[..., 0].reshape(n, -1), chroma[..., 1].reshape(n, -1)])


@pytest.fixture(scope="session")
def color_photos():
    """Colour crops (BGR) of real photographs: the astronaut's face, coffee, a 70x50 odd size."""
    a = data.astronaut()[:, :, ::-1]
    faces = np.ascontiguousarray(np.stack([a[30:94, 170:234], cv2.resize(a[20:230, 150:330], (64, 64)),
                                           cv2.resize(data.coffee()[:, :, ::-1], (64, 64))]))
    return faces, np.ascontiguousarray(a[100:170, 300:350])


def test_color_cues_equal_opencvs_ycrcb_and_the_skin_box(kernels, color_photos):
    from maskhog.features import color_features

    faces, odd = color_photos
    np.testing.assert_allclose(color_features(faces), _opencv_color_cues(faces), atol=1e-6)
    np.testing.assert_allclose(color_features(odd), _opencv_color_cues(odd[None])[0], atol=1e-6)
    np.testing.assert_allclose(color_features(odd, skin_cell=5, chroma_grid=3),
                               _opencv_color_cues(odd[None], 5, 3)[0], atol=1e-6)
    # Every corner of the RGB cube, where fixed-point rounding and clipping bite.
    rgb = np.random.default_rng(0).integers(0, 256, (50, 32, 32, 3), dtype=np.uint8)
    rgb[:, :4, :4] = np.array([[[b, g, r] for b in (0, 255) for g in (0, 255) for r in (0, 255)]
                               for _ in range(2)], np.uint8).reshape(4, 4, 3)
    np.testing.assert_allclose(color_features(rgb), _opencv_color_cues(rgb), atol=1e-6)


def test_skin_cues_see_a_mask_on_a_real_face():
    from maskhog.io.demo import demo_images
    from maskhog.features import color_features

    (_, photo), (_, masked) = demo_images()
    box = (slice(80, 190), slice(165, 275))        # the astronaut's face, 110x110
    crops = np.stack([cv2.resize(im[box], (64, 64), interpolation=cv2.INTER_AREA) for im in (photo, masked)])
    skin = color_features(crops)[:, :64].reshape(2, 8, 8)   # skin share of each 8x8 cell
    mouth = skin[:, 3:6, 2:6].mean(axis=(1, 2))    # where the drawn mask lies
    assert mouth[0] > 0.9, mouth                   # bare skin
    assert mouth[1] < 0.1, mouth                   # covered
    np.testing.assert_array_equal(skin[0, :2], skin[1, :2])   # the forehead is unchanged


def test_face_features_are_gray_texture_then_colour(color_photos):
    from maskhog.features import color_features, face_features, gray_crops

    faces, _ = color_photos
    got = face_features(faces, color={"skin_cell": 8, "chroma_grid": 4})
    assert got.shape == (3, 1924 + 96)
    gray = cv2.cvtColor(faces.reshape(-1, 64, 3), cv2.COLOR_BGR2GRAY).reshape(3, 64, 64)
    np.testing.assert_array_equal(gray_crops(faces), gray)
    np.testing.assert_array_equal(got[:, :1924], hog_lbp_features(gray))
    np.testing.assert_array_equal(got[:, 1924:], color_features(faces))
    np.testing.assert_array_equal(face_features(faces[0], color={}), got[0])
    np.testing.assert_array_equal(face_features(faces), hog_lbp_features(gray))   # no cues asked
    with pytest.raises(ValueError, match="needs BGR crops"):
        face_features(gray, color={})


def test_mirrored_features_are_the_mean_of_a_crop_and_its_mirror_image(color_photos):
    from maskhog.features import face_features

    faces, _ = color_photos
    cues = {"color": {"skin_cell": 8, "chroma_grid": 4}}
    flipped = np.ascontiguousarray(faces[:, :, ::-1])
    got = face_features(faces, mirror=True, **cues)
    np.testing.assert_allclose(got, (face_features(faces, **cues) + face_features(flipped, **cues)) / 2,
                               rtol=1e-6, atol=1e-7)
    # A face and its mirror image get one vector, in colour and in gray, one crop or a batch.
    np.testing.assert_array_equal(face_features(flipped, mirror=True, **cues), got)
    np.testing.assert_array_equal(face_features(faces[1], mirror=True, **cues), got[1])
    gray = features.gray_crops(faces)
    np.testing.assert_array_equal(face_features(gray[:, :, ::-1], mirror=True),
                                  face_features(gray, mirror=True))
    # HOG is not mirror-symmetric by itself (bin edges, zero gradients): the mean changes it.
    assert not np.allclose(got, face_features(faces, **cues), atol=1e-3)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 64, 64), np.uint8), "expected one BGR crop"),
    (np.zeros((2, 64, 64, 3), np.float32), "must be uint8"),
    (np.zeros((0, 64, 64, 3), np.uint8), "empty batch"),
    (np.zeros((4, 4, 3), np.uint8), "cannot hold skin cells"),
])
def test_color_features_refuse_bad_input(bad, message):
    from maskhog.features import color_features

    with pytest.raises((ValueError, TypeError), match=message):
        color_features(bad)
