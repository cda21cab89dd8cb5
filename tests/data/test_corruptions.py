"""MNIST-C's 15 corruptions. Each is deterministic for a seed, keeps uint8 in the
dataset's range, and changes the image by the kind of operation it names."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import color

from mnistbench.data.corruptions import (
    CORRUPTIONS,
    applicable,
    corrupt,
    load_mnist_c,
)
from mnistbench.reporting.robustness_tables import plot_corruptions

#: corruptions that draw no random numbers: the same image for every seed
SEED_FREE = {"scale", "brightness", "canny_edges"}


@pytest.fixture(scope="module")
def images(mnist):
    """40 MNIST test digits whose ink stays 4 pixels clear of the border (so that a 3-pixel
    translation keeps every stroke)."""
    X = mnist.X_test[:400]
    clear = [i for i, im in enumerate(X) if not im[:4].any() and not im[-4:].any()
             and not im[:, :4].any() and not im[:, -4:].any()]
    return X[clear[:40]]


def _mass(x):
    return x.astype(np.float64).sum(axis=(1, 2))


def _centroid(x):
    x = x.astype(np.float64)
    rr, cc = np.mgrid[: x.shape[1], : x.shape[2]]
    m = x.sum(axis=(1, 2))
    return np.stack([(x * rr).sum(axis=(1, 2)) / m, (x * cc).sum(axis=(1, 2)) / m], 1)


def test_the_15_corruptions_of_the_paper():
    assert list(CORRUPTIONS) == [
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges"]


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_deterministic_uint8_and_a_change(name, images):
    a, b = corrupt(images, name, seed=3), corrupt(images, name, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == images.shape
    assert (a != images).any(axis=(1, 2)).mean() > 0.9  # nearly every image changed
    if name not in SEED_FREE:
        assert not np.array_equal(a, corrupt(images, name, seed=4))


def test_the_input_is_not_modified(images):
    before = images.copy()
    for name in CORRUPTIONS:
        corrupt(images, name)
    np.testing.assert_array_equal(images, before)


def test_shot_noise_is_unbiased_poisson(images):
    out = corrupt(images, "shot_noise")
    # unbiased but clipped at full intensity, as in the paper: a few percent of ink lost
    assert -0.06 < _mass(out).sum() / _mass(images).sum() - 1 < 0.01
    assert 0.05 < (out != images).mean()
    assert not out[images == 0].any()  # no photons where there is no light


def test_impulse_noise_sets_pixels_to_black_or_white(images):
    out = corrupt(images, "impulse_noise")
    changed = out != images
    assert set(np.unique(out[changed])) <= {0, 255}
    assert 0.05 < changed.mean() < 0.17  # 17 % hit, half of them pepper on black background


@pytest.mark.parametrize("name", ["glass_blur", "motion_blur"])
def test_blurs_keep_the_ink_and_smooth_it(name, images):
    out = corrupt(images, name)
    assert np.allclose(_mass(out), _mass(images), rtol=0.1)

    def roughness(x):
        return np.abs(np.diff(x.astype(np.float64), axis=2)).sum()

    assert roughness(out) < 0.8 * roughness(images)


@pytest.mark.parametrize("name", ["shear", "rotate"])
def test_shear_and_rotate_keep_the_centre_and_the_ink(name, images):
    out = corrupt(images, name)
    assert np.allclose(_mass(out), _mass(images), rtol=0.15)
    centre = np.array([13.5, 13.5])
    moved = np.linalg.norm(_centroid(out) - centre, axis=1)
    was = np.linalg.norm(_centroid(images) - centre, axis=1)
    assert np.all(np.abs(moved - was) < 3)  # an affine map about the centre (13.5, 13.5)


def test_scale_shrinks_about_the_centre(images):
    out = corrupt(images, "scale")
    assert np.allclose(_mass(out) / _mass(images), 0.36, atol=0.05)  # area x 0.6^2
    centre = np.array([13.5, 13.5])
    np.testing.assert_allclose(_centroid(out) - centre, 0.6 * (_centroid(images) - centre),
                               atol=0.5)


def test_brightness_preserves_the_ranking_of_pixel_values(images):
    out = corrupt(images, "brightness")
    order = np.argsort(images.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)  # x_i <= x_j => y_i <= y_j
    assert out.min() >= 100  # +0.4 of full scale


def test_brightness_matches_the_papers_hsv_path(images):
    """The paper adds 0.4 to V in HSV; on grey pixels that is clip(x + 0.4)."""
    x = images[:5].astype(np.float64) / 255
    hsv = color.rgb2hsv(color.gray2rgb(x))
    hsv[..., 2] = np.clip(hsv[..., 2] + 0.4, 0, 1)
    paper = np.rint(color.rgb2gray(color.hsv2rgb(hsv)) * 255).astype(np.uint8)
    np.testing.assert_allclose(corrupt(images[:5], "brightness"), paper, atol=1)


def test_translate_preserves_the_pixel_sum_and_moves_3_pixels(images):
    out = corrupt(images, "translate")
    np.testing.assert_array_equal(_mass(out), _mass(images))  # the ink is clear of the border
    np.testing.assert_allclose(np.abs(_centroid(out) - _centroid(images)), 3, atol=1e-9)


def test_stripe_inverts_one_narrow_vertical_band(images):
    out = corrupt(images, "stripe")
    for before, after in zip(images, out, strict=True):
        cols = np.flatnonzero((before != after).any(axis=0))
        assert 1 <= len(cols) <= 3 and cols.max() - cols.min() <= 2
        np.testing.assert_array_equal(after[:, cols], 255 - before[:, cols])


def test_fog_is_a_smooth_veil_over_the_whole_image(images):
    out = corrupt(images, "fog")
    background = images == 0
    assert (out[background] > 0).mean() > 0.9  # the fog reaches the background
    veil = out.astype(np.float64) * background
    # smooth: neighbouring background pixels differ far less than the ink's edges do
    assert np.abs(np.diff(veil, axis=2))[background[:, :, 1:] & background[:, :, :-1]].mean() < 25


def test_spatter_adds_ink_in_blobs(images):
    out = corrupt(images, "spatter")
    assert np.all(out >= images)  # ink is only added
    added = (out > images)
    assert 0.005 < added.mean() < 0.2


@pytest.mark.parametrize("name", ["dotted_line", "zigzag"])
def test_lines_only_add_ink(name, images):
    out = corrupt(images, name)
    assert np.all(out >= images) and (out > images).any(axis=(1, 2)).mean() > 0.9


def test_dotted_line_is_dotted(images):
    out = corrupt(images, "dotted_line")
    added = (out > images) & (images == 0)
    # every other step along the line is skipped: no horizontal run of more than 3 pixels
    longest = max(len(run) for im in added for row in im
                  for run in "".join("x" if v else " " for v in row).split())
    assert 1 <= longest <= 3


def test_canny_edges_outline_the_digit(images):
    out = corrupt(images, "canny_edges")
    assert set(np.unique(out)) <= {0, 255}
    from scipy import ndimage
    near_ink = ndimage.binary_dilation(images > 0, iterations=2)
    assert not out[~near_ink].any()  # edges only where the digit is
    assert (out[images > 200] == 0).mean() > 0.5  # the stroke's inside is not an edge


def test_digits_8x8_scaled_or_marked_not_applicable(digits):
    X = digits.X_test[:20]
    for name in CORRUPTIONS:
        ok, why = applicable(name, X.shape)
        if ok:
            out = corrupt(X, name, pixel_max=16)
            assert out.max() <= 16 and out.dtype == np.uint8
        else:
            assert "not applicable to 8x8" in why
            with pytest.raises(ValueError, match="not applicable"):
                corrupt(X, name, pixel_max=16)
    shifted = corrupt(X, "translate", pixel_max=16)  # 3 px at 28x28 is 1 px at 8x8
    moved = np.abs(_centroid(shifted) - _centroid(X))
    assert np.all(moved.max(axis=1) < 1.5)
    with pytest.raises(ValueError, match="pixel_max"):
        corrupt(digits.X_test[:2] * 16, "translate", pixel_max=16)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown corruption 'snow'"):
        corrupt(np.zeros((1, 28, 28), np.uint8), "snow")
    with pytest.raises(ValueError, match="uint8 images"):
        corrupt(np.zeros((1, 28, 28)), "translate")


def test_load_mnist_c_reads_the_published_layout(tmp_path, images):
    folder = tmp_path / "mnist_c" / "translate"
    folder.mkdir(parents=True)
    np.save(folder / "test_images.npy", images[:5, :, :, None])  # (n, 28, 28, 1) uint8
    np.save(folder / "test_labels.npy", np.arange(5, dtype=np.uint8))
    X, y = load_mnist_c(tmp_path / "mnist_c", "translate")
    np.testing.assert_array_equal(X, images[:5])
    assert X.dtype == np.uint8 and y.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(FileNotFoundError, match=r"holds \['translate'\]"):
        load_mnist_c(tmp_path / "mnist_c", "fog")


def test_the_figure_shows_every_corruption(images, digits):
    fig = plot_corruptions(images[0])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "clean" and len(titles) == 16 and "canny edges" in titles
    fig = plot_corruptions(digits.X_test[0], pixel_max=16)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("n/a") == 4
