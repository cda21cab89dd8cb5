"""MNIST-C's 15 corruptions (Mu & Gilmer 2019, arXiv:1906.02337), from the paper's descriptions.

Which model breaks first when the digits change? MNIST-C corrupts the MNIST test set in 15
ways, each at one fixed severity, to ask exactly that. The official files cannot be
downloaded everywhere, so the corruptions are implemented here on scikit-image and scipy,
each at the paper's severity for 28x28 images:

======================  ==============================================================
shot_noise              Poisson noise, 60 photons at full intensity
impulse_noise           salt-and-pepper on 17 % of the pixels (``skimage.util.random_noise``)
glass_blur              Gaussian blur (sigma 0.7), local pixel swaps (1 px, 2 passes), blur
motion_blur             a one-sided Gaussian streak (radius 10 px, sigma 3) at -45..45 degrees
shear                   affine shear of 0.4 either way, about the image centre
scale                   shrunk to 60 % about the centre
rotate                  0.4 rad (23 degrees) either way about the centre
brightness              +0.4 on HSV value (for grey images: ``clip(x + 0.4)``)
translate               3 px along each axis, random signs, zero fill
stripe                  a 3-pixel vertical band near the middle, inverted
fog                     a plasma fractal (diamond-square) added, then renormalised
spatter                 smooth random splashes of ink
dotted_line             a random line across the image, every other pixel set
zigzag                  a random 3-segment zigzag line drawn across the image
canny_edges             the digit's edges only (``skimage.feature.canny``, sigma 1)
======================  ==============================================================

:func:`corrupt` takes a ``(n, h, w)`` uint8 array (0-255, or 0-``pixel_max``: digits' are
0-16) and a seed, and returns a new uint8 array of the same shape and range; the same seed
gives the same images. Each corruption works on [0, 1] floats in between. Sizes scale with the
image: a 3-pixel translation of a 28x28 image is a 1-pixel one on 8x8 digits. Where a
corruption has no meaning at a size (glass blur's 0.2-pixel sigma on 8x8, say),
:func:`applicable` says why and :func:`corrupt` refuses, so a table shows "n/a" instead of a
silently wrong number. :func:`load_mnist_c` reads the official files for users who have them.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import draw, feature, transform, util

__all__ = ["CORRUPTIONS", "MIN_SIZE", "applicable", "corrupt", "load_mnist_c"]

_REF = 28  # MNIST's side: every size below is given for 28x28 and scaled to the image


def _px(n, side):
    """``n`` pixels at 28x28, scaled to an image of ``side`` pixels (at least 1)."""
    return max(1, int(round(n * side / _REF)))


# ----------------------------------------------------------------------- pixelwise
def shot_noise(x, rng):
    photons = 60
    return rng.poisson(x * photons) / photons


def impulse_noise(x, rng):
    return util.random_noise(x, mode="s&p", amount=0.17, rng=rng)


def brightness(x, rng):
    # MNIST-C converts to HSV and adds 0.4 to V; for a grey pixel V is its value, so this
    # is the same (tests/data/test_corruptions.py checks it against skimage's HSV path).
    return np.clip(x + 0.4, 0, 1)


# ----------------------------------------------------------------------- blurs
def glass_blur(x, rng, sigma=0.7, delta=1, passes=2):
    img = np.stack([ndimage.gaussian_filter(im, sigma) for im in x])
    n, h, w = img.shape
    rows = np.arange(n)
    for _ in range(passes):  # swap each pixel with a random neighbour, all images at once
        for r in range(h - delta - 1, delta - 1, -1):
            for c in range(w - delta - 1, delta - 1, -1):
                dr, dc = rng.integers(-delta, delta, size=(2, n))
                a, b = img[rows, r, c].copy(), img[rows, r + dr, c + dc].copy()
                img[rows, r, c], img[rows, r + dr, c + dc] = b, a
    return np.stack([ndimage.gaussian_filter(im, sigma) for im in img])


def _streak_kernel(radius, sigma, angle):
    """A one-sided motion streak: weights exp(-d^2 / 2 sigma^2) along ``angle``, summing to 1."""
    size = 2 * radius + 1
    k = np.zeros((size, size))
    d = np.arange(radius + 1)
    weights = np.exp(-(d ** 2) / (2 * sigma ** 2))
    rr = np.rint(radius - d * np.sin(angle)).astype(int)
    cc = np.rint(radius + d * np.cos(angle)).astype(int)
    np.add.at(k, (rr, cc), weights)
    return k / k.sum()


def motion_blur(x, rng):
    side = x.shape[-1]
    radius, sigma = _px(10, side), 3 * side / _REF
    angles = np.deg2rad(rng.uniform(-45, 45, size=len(x)))
    return np.stack([ndimage.convolve(im, _streak_kernel(radius, sigma, a), mode="constant")
                     for im, a in zip(x, angles, strict=True)])


# ----------------------------------------------------------------------- geometry
def _affine_about_centre(x, make):
    """Warp each image by ``make(i)`` (an AffineTransform) with the image centre fixed."""
    h, w = x.shape[1:]
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    shift, back = (transform.AffineTransform(translation=-centre),
                   transform.AffineTransform(translation=centre))
    out = []
    for i, im in enumerate(x):
        tf = shift + make(i) + back  # (x - c) -> transformed -> + c
        out.append(transform.warp(im, tf.inverse, order=1, mode="constant", cval=0.0))
    return np.stack(out)


def shear(x, rng):
    signs = rng.choice([-1, 1], size=len(x))
    return _affine_about_centre(x, lambda i: transform.AffineTransform(shear=0.4 * signs[i]))


def scale(x, rng):
    return _affine_about_centre(x, lambda i: transform.AffineTransform(scale=0.6))


def rotate(x, rng):
    signs = rng.choice([-1, 1], size=len(x))
    return _affine_about_centre(x, lambda i: transform.AffineTransform(rotation=0.4 * signs[i]))


def translate(x, rng):
    step = _px(3, x.shape[-1])
    signs = rng.choice([-1, 1], size=(len(x), 2))
    out = np.zeros(x.shape)
    for i, (im, (dr, dc)) in enumerate(zip(x, signs * step, strict=True)):
        out[i] = ndimage.shift(im, (dr, dc), order=0, mode="constant", cval=0.0)
    return out


# ----------------------------------------------------------------------- occlusions
def stripe(x, rng):
    out = x.copy()
    side = x.shape[-1]
    width = _px(3, side)
    starts = rng.integers(side // 2 - width, side // 2 + 1, size=len(x))
    for i, c0 in enumerate(starts):
        out[i, :, c0:c0 + width] = 1.0 - out[i, :, c0:c0 + width]
    return out


def _plasma(side, rng, decay=1.7):
    """A plasma fractal (diamond-square) on a power-of-two grid, cropped to ``side``, in [0, 1]."""
    size = 1 << int(np.ceil(np.log2(max(side, 2))))
    grid = np.zeros((size + 1, size + 1))
    step, scale_ = size, 1.0
    while step > 1:
        half = step // 2
        # squares: the centre of each square from its corners, plus noise
        corners = (grid[0:-1:step, 0:-1:step] + grid[step::step, 0:-1:step]
                   + grid[0:-1:step, step::step] + grid[step::step, step::step]) / 4
        grid[half::step, half::step] = corners + scale_ * rng.uniform(-1, 1, corners.shape)
        # diamonds: each edge midpoint from its neighbours (wrapping), plus noise
        for r0, c0 in ((0, half), (half, 0)):
            rr, cc = np.meshgrid(np.arange(r0, size + 1, step), np.arange(c0, size + 1, step),
                                 indexing="ij")
            total = sum(grid[(rr + dr) % size, (cc + dc) % size]
                        for dr, dc in ((-half, 0), (half, 0), (0, -half), (0, half)))
            grid[rr, cc] = total / 4 + scale_ * rng.uniform(-1, 1, rr.shape)
        step, scale_ = half, scale_ / decay
    p = grid[:side, :side]
    return (p - p.min()) / (np.ptp(p) or 1.0)


def fog(x, rng, strength=2.5):
    img = x
    side = x.shape[-1]
    out = np.stack([im + strength * _plasma(side, rng) for im in img])
    peak = img.max(axis=(1, 2), keepdims=True)
    return out * peak / (peak + strength)


def spatter(x, rng):
    img = x
    out = img.copy()
    sigma = 2.0 * x.shape[-1] / _REF
    for i in range(len(x)):
        field = ndimage.gaussian_filter(rng.normal(size=x.shape[1:]), sigma)
        field = (field - field.mean()) / (field.std() or 1.0)
        ink = np.clip((field - 1.6) * 2.0, 0, 1)  # the top few percent, soft-edged
        out[i] = np.maximum(img[i], ink)
    return out


def _draw(x, rng, segments, dotted):
    out = x.copy()
    h, w = x.shape[1:]
    for i in range(len(x)):
        pts = np.stack([rng.integers(0, h, segments + 1), rng.integers(0, w, segments + 1)], 1)
        if segments == 1:  # a line from one side to the other
            pts = np.array([[rng.integers(0, h), 0], [rng.integers(0, h), w - 1]])
        for (r0, c0), (r1, c1) in zip(pts[:-1], pts[1:], strict=True):
            rr, cc, val = draw.line_aa(int(r0), int(c0), int(r1), int(c1))
            keep = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            rr, cc, val = rr[keep], cc[keep], val[keep]
            if dotted:
                on = ((rr + cc) // 2) % 2 == 0
                rr, cc, val = rr[on], cc[on], val[on]
            out[i, rr, cc] = np.maximum(out[i, rr, cc], val)
    return out


def dotted_line(x, rng):
    return _draw(x, rng, segments=1, dotted=True)


def zigzag(x, rng):
    return _draw(x, rng, segments=3, dotted=False)


def canny_edges(x, rng):
    return np.stack([feature.canny(im, sigma=1.0).astype(float) for im in x])


CORRUPTIONS = {f.__name__: f for f in (
    shot_noise, impulse_noise, glass_blur, motion_blur, shear, scale, rotate, brightness,
    translate, stripe, fog, spatter, dotted_line, zigzag, canny_edges)}

#: The smallest side at which a corruption still means what it says; below: not applicable.
MIN_SIZE = {"glass_blur": 16, "fog": 16, "spatter": 16, "canny_edges": 16}
_WHY = {
    "glass_blur": "its 0.7-pixel blur and 1-pixel swaps would smear an 8x8 digit away",
    "fog": "a plasma fractal needs more than a few pixels to be fog rather than noise",
    "spatter": "splashes two pixels wide would cover whole strokes of an 8x8 digit",
    "canny_edges": "a 1-pixel-sigma edge detector finds no inner edges in 8x8 strokes",
}


def applicable(name, shape) -> tuple[bool, str]:
    """Whether corruption ``name`` means what it says on images of ``shape`` (h, w), and why
    not when it does not."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {list(CORRUPTIONS)}")
    side = min(shape[-2:])
    if side < MIN_SIZE.get(name, 0):
        return False, f"{name} is not applicable to {shape[-2]}x{shape[-1]} images: {_WHY[name]}"
    return True, ""


def corrupt(images, name, seed=0, pixel_max=255) -> np.ndarray:
    """``images`` (n, h, w) uint8 under corruption ``name``; deterministic for ``seed``.

    ``pixel_max``: the images' full intensity (a Dataset's ``pixel_max``: 255 for MNIST, 16
    for digits); the result keeps that range.

    The random stream is seeded by ``seed`` and the corruption's name, so each corruption
    draws its own numbers and adding one never changes another's images.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        return corrupt(images[None], name, seed, pixel_max)[0]
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"corrupt expects uint8 images of shape (n, h, w), got {images.dtype} "
                         f"{images.shape}; mnistbench datasets' X arrays are that already")
    ok, why = applicable(name, images.shape)
    if not ok:
        raise ValueError(why + "; mark it n/a, or upsample the images first")
    if images.size and images.max() > pixel_max:
        raise ValueError(f"pixel values up to {images.max()} above pixel_max={pixel_max}; pass "
                         "the dataset's pixel_max (255 for MNIST, 16 for digits)")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = CORRUPTIONS[name](images.astype(np.float64) / pixel_max, rng)
    return np.clip(np.rint(out * pixel_max), 0, pixel_max).astype(np.uint8)


def load_mnist_c(root, corruption, split="test"):
    """One corruption of the official MNIST-C files: ``(images (n, 28, 28) uint8, labels)``.

    ``root`` is the unpacked ``mnist_c`` folder of the published archive
    (https://zenodo.org/record/3239543), laid out as
    ``<root>/<corruption>/{train,test}_{images,labels}.npy`` with images of shape
    (n, 28, 28, 1).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: choose 'train' or 'test'")
    folder = Path(root) / corruption
    if not folder.is_dir():
        found = sorted(p.name for p in Path(root).iterdir() if p.is_dir()) if Path(
            root).is_dir() else []
        raise FileNotFoundError(
            f"no MNIST-C folder {folder}; " + (f"{root} holds {found}" if found else
                                               f"{root} is not an unpacked mnist_c folder"))
    images = np.load(folder / f"{split}_images.npy")
    labels = np.load(folder / f"{split}_labels.npy")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"{folder}: expected images (n, 28, 28[, 1]) and n labels, got "
                         f"{images.shape} and {labels.shape}")
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)
