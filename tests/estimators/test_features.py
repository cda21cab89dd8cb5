"""HOGTransformer and ImageFlattener: equality with skimage, sklearn contract."""

import numpy as np
import pytest
from skimage.feature import hog
from sklearn.base import clone

from mnistbench import load_dataset
from mnistbench.estimators.features import (
    DeskewTransformer,
    HOGTransformer,
    ImageFlattener,
    deskew,
    hog_batch,
    images_from,
)


@pytest.fixture(scope="module")
def digits_sample():
    return load_dataset("digits").X_test[:200]


HOG_PARAMS = [
    dict(orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2)),
    dict(orientations=9, pixels_per_cell=(7, 7), cells_per_block=(2, 2), block_norm="L2"),
    dict(orientations=8, pixels_per_cell=(5, 5), cells_per_block=(3, 3), block_norm="L1-sqrt",
         transform_sqrt=True),
    dict(orientations=7, pixels_per_cell=(3, 3), cells_per_block=(1, 1), block_norm="L1"),
    dict(orientations=12, pixels_per_cell=(6, 4), cells_per_block=(2, 3)),
]


@pytest.mark.parametrize("params", HOG_PARAMS, ids=lambda p: str(sorted(p.items())))
@pytest.mark.parametrize("as_float", [False, True], ids=["uint8", "float32"])
def test_hog_equals_skimage_on_mnist(mnist_sample, params, as_float):
    X = (mnist_sample / np.float32(255)).astype(np.float32) if as_float else mnist_sample
    expected = np.stack([hog(x, **params) for x in X])
    got = hog_batch(X, **params)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6


@pytest.mark.parametrize("params", [
    dict(orientations=9, pixels_per_cell=(2, 2), cells_per_block=(2, 2)),
    dict(orientations=6, pixels_per_cell=(3, 3), cells_per_block=(2, 2), block_norm="L1"),
    dict(orientations=9, pixels_per_cell=(4, 4), cells_per_block=(1, 1), block_norm="L2"),
])
def test_hog_equals_skimage_on_digits(digits_sample, params):
    expected = np.stack([hog(x, **params) for x in digits_sample])
    assert np.abs(hog_batch(digits_sample, **params) - expected).max() <= 1e-6


def test_hog_on_synthetic_edge_cases():
    rng = np.random.RandomState(1)
    X = rng.randint(0, 256, size=(20, 17, 23)).astype(np.uint8)  # noise, odd sizes
    X[0] = 0  # blank image: all-zero features, no NaN
    X[1] = 255
    params = dict(orientations=9, pixels_per_cell=(5, 4), cells_per_block=(2, 2))
    expected = np.stack([hog(x, **params) for x in X])
    got = hog_batch(X, **params)
    assert np.isfinite(got).all()
    assert np.abs(got - expected).max() <= 1e-6


def test_hog_too_small_image_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        hog_batch(np.zeros((2, 8, 8), np.uint8), pixels_per_cell=(8, 8), cells_per_block=(3, 3))


def test_transformer_accepts_every_image_form(mnist_sample):
    flat = mnist_sample.reshape(len(mnist_sample), -1)
    t = HOGTransformer().fit(flat)
    assert t.pixels_per_cell_ == (4, 4) and t.image_shape_ == (28, 28)
    ref = t.transform(flat)
    np.testing.assert_array_equal(t.transform(mnist_sample), ref)
    np.testing.assert_array_equal(t.transform(mnist_sample[..., None]), ref)
    assert HOGTransformer().fit(load_dataset("digits").X_train).pixels_per_cell_ == (2, 2)


def test_transformer_is_stateless_across_folds(mnist_sample):
    a = HOGTransformer().fit(mnist_sample[:100]).transform(mnist_sample[200:])
    b = HOGTransformer().fit(mnist_sample[100:200]).transform(mnist_sample[200:])
    np.testing.assert_array_equal(a, b)


def test_transformer_clone_keeps_params():
    t = HOGTransformer(orientations=12, pixels_per_cell=(7, 7), block_norm="L2")
    assert clone(t).get_params() == t.get_params()


def test_non_square_flat_input_is_a_clear_error():
    with pytest.raises(ValueError, match="not a square image"):
        images_from(np.zeros((3, 10)))


def test_flattener_scales_by_largest_pixel():
    X = load_dataset("digits").X_train
    f = ImageFlattener().fit(X)
    assert f.scale_ == 16.0
    out = f.transform(X)
    assert out.shape == (len(X), 64) and out.max() == 1.0


# --------------------------------------------------------------------------- deskew
def _moments(img):
    r, c = np.mgrid[: img.shape[0], : img.shape[1]]
    m = img.sum()
    rm, cm = (img * r).sum() / m, (img * c).sum() / m
    return (img * (r - rm) * (c - cm)).sum() / m


def test_deskew_straightens_a_slanted_bar():
    img = np.zeros((28, 28), np.float32)
    for r in range(4, 24):
        img[r, 8 + r // 2 : 11 + r // 2] = 255  # leaning right
    out = deskew(img[None])[0]
    assert abs(_moments(out)) < 0.1 * abs(_moments(img))
    assert out.sum() == pytest.approx(img.sum(), rel=0.05)  # ink is kept


def test_deskew_matches_skimage_warp_per_image(mnist_sample):
    from skimage.transform import warp

    X = mnist_sample[:40].astype(np.float32)
    ours = deskew(X)
    centre = (X.shape[1] - 1) / 2
    for img, got in zip(X, ours, strict=True):
        r, c = np.mgrid[:28, :28].astype(np.float64)
        m = img.sum()
        rm, cm = (img * r).sum() / m, (img * c).sum() / m
        skew = (img * (r - rm) * (c - cm)).sum() / (img * (r - rm) ** 2).sum()
        # warp's inverse_map takes output (col, row) and returns input (col, row)
        # warp calls the map in this iteration (skimage takes no extra parameters on it)
        ref = warp(img, lambda xy: np.column_stack([xy[:, 0] + skew * (xy[:, 1] - centre), xy[:, 1]]),  # noqa: B023 - called at once
                   order=1, mode="constant", cval=0, preserve_range=True)
        assert np.abs(got - ref).max() <= 1e-3


def test_deskew_leaves_blank_images_alone():
    assert not deskew(np.zeros((2, 8, 8))).any()


def test_deskew_transformer_keeps_the_input_form(mnist_sample):
    t = DeskewTransformer().fit(mnist_sample)
    assert t.transform(mnist_sample).shape == mnist_sample.shape
    flat = mnist_sample.reshape(len(mnist_sample), -1)
    np.testing.assert_array_equal(DeskewTransformer().fit(flat).transform(flat),
                                  t.transform(mnist_sample).reshape(len(flat), -1))
