"""Realistic-looking images made from MNIST digits, to test :mod:`mnistbench.data.imaging`.

Each variant takes 28x28 MNIST digits (white on black, uint8) and renders them
the way users' own images arrive: dark ink on light paper, ten times larger,
off-centre on a bigger sheet, blurred, JPEG-compressed, two digits side by
side, or all of it at once with uneven lighting and sensor noise. Used by the
tests and by ``benchmarks/imaging_agreement.py``.
"""

from __future__ import annotations

import io

import numpy as np

VARIANTS = ("original", "inverted", "large", "off-centre", "blurred", "jpeg", "photo")


def _big(digit, factor=10):
    from skimage.transform import resize

    h, w = digit.shape
    return resize(digit / 255.0, (h * factor, w * factor), order=1, anti_aliasing=False)


def _paper(ink01, paper=0.95, ink=0.1):
    """White-on-black 0-1 ink -> dark ink on light paper, 0-1."""
    return paper - (paper - ink) * ink01


def _to_uint8(a):
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


def jpeg(image_u8, quality=35):
    """Round-trip a uint8 grey image through JPEG compression."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"))


def render(digit, variant, rng):
    """One MNIST digit (28x28 uint8) as a uint8 image of the given variant."""
    from skimage.filters import gaussian

    if variant == "original":
        return digit
    if variant == "inverted":
        return 255 - digit
    big = _big(digit)
    if variant == "large":
        return _to_uint8(_paper(big))
    if variant == "off-centre":
        sheet = np.zeros((420, 640))
        r = rng.integers(0, 420 - 280)
        c = rng.integers(0, 640 - 280)
        sheet[r:r + 280, c:c + 280] = big
        return _to_uint8(_paper(sheet))
    if variant == "blurred":
        return _to_uint8(gaussian(_paper(big), sigma=4))
    if variant == "jpeg":
        return jpeg(_to_uint8(_paper(big)), quality=35)
    if variant == "photo":
        sheet = np.zeros((360, 480))
        r = rng.integers(10, 360 - 290)
        c = rng.integers(10, 480 - 290)
        sheet[r:r + 280, c:c + 280] = big
        yy, xx = np.mgrid[0:360, 0:480]
        light = 0.85 - 0.15 * (xx / 480) - 0.05 * (yy / 360)  # uneven lighting
        img = light - (light - 0.2) * gaussian(sheet, sigma=2)
        img = img + rng.normal(0, 0.03, img.shape)  # sensor noise
        return jpeg(_to_uint8(img), quality=50)
    raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")


def pair(left, right, gap=60):
    """Two MNIST digits side by side, ten times larger, dark ink on light paper."""
    a, b = _big(left), _big(right)
    h = a.shape[0]
    sheet = np.zeros((h + 80, a.shape[1] + gap + b.shape[1] + 80))
    sheet[40:40 + h, 40:40 + a.shape[1]] = a
    sheet[40:40 + h, 40 + a.shape[1] + gap:40 + a.shape[1] + gap + b.shape[1]] = b
    return _to_uint8(_paper(sheet))
