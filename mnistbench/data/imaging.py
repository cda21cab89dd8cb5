"""Turn real images of digits (photos, scans, drawings) into MNIST form.

MNIST digits are white ink on black, size-normalised so the longer side of the
digit's bounding box is 20 px (aspect kept), anti-aliased, and placed on a 28x28
canvas so that the centre of mass sits at pixel (14, 14). A photo of a digit is
none of that, which is why a network that scores 99 % on MNIST often misreads a
user's own picture. :func:`to_mnist` applies the same preparation with
scikit-image:

1. greyscale (``skimage.color.rgb2gray``; transparency composited on white);
2. polarity: the border is background, so dark-on-light images are inverted;
3. a light Gaussian blur for the ink mask only, Otsu's threshold, specks
   smaller than 5 % of the largest ink blob dropped;
   Uneven lighting is levelled first (a grey opening larger than any stroke
   estimates the background).
4. connected components (``skimage.measure.label``) grouped into digits by
   overlapping columns (a "5" whose cap is not joined stays one digit) and
   ordered left to right;
5. per digit: ink levels stretched to 0-1, cropped to the ink, strokes thickened
   when they would be thinner than MNIST's after scaling, longer side resized to
   20 px keeping aspect (``skimage.transform.resize`` with anti-aliasing),
   placed on 28x28 by centre of mass.

:func:`load_image` reads PNG/JPEG/... with bounded memory: JPEGs are decoded
at a reduced scale and everything is shrunk to at most ``MAX_SIDE`` pixels
before any float array is made; files over ``MAX_PIXELS`` that cannot be
decoded reduced are refused with a clear error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistbench.errors import MnistbenchError

__all__ = [
    "BlankImageError",
    "ImageReadError",
    "MAX_PIXELS",
    "MAX_SIDE",
    "PreparedImage",
    "deskew",
    "load_image",
    "prepare_image",
    "to_mnist",
]

#: Longest side (px) an image is shrunk to before processing: a digit needs far
#: less, and it bounds memory and time whatever the camera's resolution.
MAX_SIDE = 1024
#: Largest image (width x height) decoded at full size; bigger JPEGs are decoded
#: reduced, bigger images of other formats are refused.
MAX_PIXELS = 64_000_000

MNIST_SIDE = 28
MNIST_BOX = 20  # longer side of the digit's bounding box in MNIST
MNIST_STROKE = 2.6  # median stroke width (px) of MNIST test digits (ink > 0.5)
CORE_LEVEL = 0.1  # measured: 0.05-0.15 agree best with the original predictions
MIN_CONTRAST = 0.08  # spread (0-1) between dark and light pixels below which an image is blank


class ImageReadError(MnistbenchError, ValueError):
    """A file is missing, unreadable, not an image, or too large."""


class BlankImageError(MnistbenchError, ValueError):
    """An image holds no ink that could be a digit."""


@dataclass
class PreparedImage:
    """Digits found in one image, in MNIST form.

    Attributes
    ----------
    digits : ndarray of uint8, shape (k, 28, 28)
        One MNIST-form image per digit, left to right (white ink on black, 0-255).
    boxes : list of (row0, col0, row1, col1)
        Each digit's bounding box in the processed image (after any shrinking).
    inverted : bool
        True when the image was dark ink on light background (and was inverted).
    shape : tuple
        ``(h, w)`` of the processed image.
    source : str
        File name or ``"array"``.
    """

    digits: np.ndarray
    boxes: list = field(default_factory=list)
    inverted: bool = False
    shape: tuple = ()
    source: str = "array"


# --------------------------------------------------------------------------- reading
def load_image(path, max_side=MAX_SIDE, max_pixels=MAX_PIXELS) -> np.ndarray:
    """Read an image file as a float greyscale array in [0, 1], at most ``max_side`` px.

    Raises
    ------
    ImageReadError
        Missing file, a file that is not an image, or an image too large to
        decode within the memory bound.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415 - loaded lazily, only when used

    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a directory, not an image file")
    try:
        with warnings.catch_warnings():  # our own pixel limit below says it better
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)  # reads the header only
    except MemoryError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{path}: not an image this reader understands (PNG, JPEG, BMP, GIF, TIFF, WebP...)"
        ) from None
    except Image.DecompressionBombError as exc:  # the header claims a gigantic image
        raise ImageReadError(
            f"{path}: refused, its header claims more pixels than any photo of a digit needs "
            f"({exc}); shrink it first (a digit needs a few hundred pixels)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any other decoder failure is this file's problem
        raise ImageReadError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
    with img:
        w, h = img.size
        if w == 0 or h == 0:
            raise ImageReadError(f"{path}: the image has no pixels ({w}x{h})")
        if img.format == "JPEG" and w * h > (2 * max_side) ** 2:
            img.draft("L", (2 * max_side, 2 * max_side))  # decode at 1/2, 1/4 or 1/8 scale
            w, h = img.size
        if w * h > max_pixels:
            raise ImageReadError(
                f"{path}: {w}x{h} pixels ({w * h / 1e6:.0f} MP) is over the {max_pixels / 1e6:.0f} MP "
                "limit for this format; shrink it first (a digit needs a few hundred pixels), "
                "or save it as JPEG, which is decoded at reduced size"
            )
        try:
            img.load()
            img = ImageOps.exif_transpose(img)  # phone photos: honour the orientation tag
            if max(img.size) > max_side:
                img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return _grey_from_pil(img)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - OSError, SyntaxError, ValueError, bombs...
            raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None


def _grey_from_pil(img) -> np.ndarray:
    """A Pillow image as an array in the form :func:`_as_grey` converts (one path for
    colour, transparency and scaling, whether the image came from a file or not)."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float: stretched
        return _as_grey(np.asarray(img, dtype=np.float64))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return _as_grey(np.asarray(img.convert("RGBA")))  # composited on white
    if img.mode in ("L", "1"):
        return _as_grey(np.asarray(img.convert("L"), dtype=np.float64) / 255.0)
    return _as_grey(np.asarray(img.convert("RGB")))


def _background(rgba) -> tuple:
    """Black under light ink (white strokes on a transparent sheet), else white: the
    transparent part is the background, whatever colour its hidden pixels hold."""
    from skimage.color import rgb2gray  # noqa: PLC0415 - loaded lazily, only when used

    opaque = rgba[..., 3] > 0.5
    light = opaque.any() and not opaque.all() and rgb2gray(rgba[..., :3])[opaque].mean() > 0.5
    return (0, 0, 0) if light else (1, 1, 1)


def _as_grey(image) -> np.ndarray:
    """An array image (grey or RGB/RGBA, integer or float) as float grey in [0, 1]."""
    from skimage.color import rgb2gray, rgba2rgb  # noqa: PLC0415 - loaded lazily, only when used

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        if np.issubdtype(a.dtype, np.integer):
            a = a / float(np.iinfo(a.dtype).max)
        if a.shape[-1] == 4:  # transparency composited on a background that contrasts
            a = rgba2rgb(a, background=_background(a))  # with the ink: white ink, black
        return rgb2gray(a)
    if a.ndim != 2:
        raise ValueError(
            f"an image must be 2-D (grey) or 3-D with 3 or 4 channels (RGB/RGBA); got shape {a.shape}"
        )
    if a.size == 0:
        raise BlankImageError("the image has no pixels")
    if np.issubdtype(a.dtype, np.bool_):
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        return a / float(np.iinfo(a.dtype).max) if a.max() > 1 else a.astype(np.float64)
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("the image contains NaN or infinite values")
    lo, hi = a.min(), a.max()
    if lo < 0 or hi > 1:  # floats on another scale (0-255, 0-16...): stretch to 0-1
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return a


# --------------------------------------------------------------------------- preparing
def to_mnist(image, multiple=True, source="array") -> PreparedImage:
    """Find the digit(s) in a greyscale or colour image and return them in MNIST form.

    Parameters
    ----------
    image : array-like, shape (h, w), (h, w, 3) or (h, w, 4)
        Any size, dark ink on light paper or the reverse, integer or float pixels.
    multiple : bool, default=True
        Split the image into several digits (left to right). False treats all the
        ink as one digit (for folders of single-digit images).
    source : str
        Name used in error messages.

    Raises
    ------
    BlankImageError
        The image is (nearly) uniform: no ink to read.
    """
    from scipy import ndimage  # noqa: PLC0415 - loaded lazily, only when used
    from skimage import filters, measure  # noqa: PLC0415 - loaded lazily, only when used

    grey = _as_grey(image)
    h, w = grey.shape
    # Contrast on a blurred copy: sensor noise and single specks average out, while a
    # digit, even a 1-pixel pen line on a large photo, keeps a clear dip or peak.
    # (Percentiles would miss ink covering under 1 % of the pixels.)
    sigma = max(0.0, min(h, w) / 150.0)
    probe = filters.gaussian(grey, sigma=max(1.0, sigma))
    lo, hi = float(probe.min()), float(probe.max())
    if hi - lo < MIN_CONTRAST:
        raise BlankImageError(
            f"{source}: the image is blank (no contrast between ink and background); "
            "is it the right file, and is the digit visible in it?"
        )

    # Polarity: the border is mostly background; ink is whichever extreme lies
    # further from it (dark ink on light paper -> invert).
    edge = max(1, round(0.03 * min(h, w)))
    border = np.concatenate([grey[:edge].ravel(), grey[-edge:].ravel(),
                             grey[:, :edge].ravel(), grey[:, -edge:].ravel()])
    paper = float(np.median(border))
    inverted = bool(paper - lo > hi - paper)
    ink = _flatten_background(1.0 - grey if inverted else grey)

    # Ink mask on a lightly blurred copy (JPEG blocks, paper grain, sensor noise).
    smooth = filters.gaussian(ink, sigma=sigma) if sigma >= 0.5 else ink
    mask = smooth > filters.threshold_otsu(smooth)
    labels = measure.label(mask, connectivity=2)
    if labels.max() == 0:
        raise BlankImageError(f"{source}: no ink found in the image")
    areas = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(areas >= max(2, 0.05 * areas.max())) + 1
    objects = ndimage.find_objects(labels)

    # Ink levels: background median to 0, bright ink to 1.
    background = float(np.median(ink[~mask])) if (~mask).any() else float(ink.min())
    level = float(np.percentile(ink[mask], 90))
    if level - background < MIN_CONTRAST:
        raise BlankImageError(f"{source}: the ink is too faint to read")
    norm = np.clip((ink - background) / (level - background), 0.0, 1.0)

    groups = _group_components(keep, objects, merge_all=not multiple)
    grow = max(1, round(1.5 * sigma))  # keep the soft edge around each stroke
    digits, boxes = [], []
    for group in groups:
        r0 = max(0, min(objects[i - 1][0].start for i in group) - grow)
        r1 = min(h, max(objects[i - 1][0].stop for i in group) + grow)
        c0 = max(0, min(objects[i - 1][1].start for i in group) - grow)
        c1 = min(w, max(objects[i - 1][1].stop for i in group) + grow)
        own = np.isin(labels[r0:r1, c0:c1], group)
        own = ndimage.binary_dilation(own, iterations=grow)
        patch = np.where(own, norm[r0:r1, c0:c1], 0.0)
        digits.append(_place(patch, own))
        boxes.append((r0, c0, r1, c1))
    return PreparedImage(np.stack(digits), boxes, inverted, (h, w), source)


def _flatten_background(ink):
    """Subtract uneven lighting: a grey opening (larger than any stroke) of a
    block-averaged copy, smoothed and resized back, is the background."""
    from scipy import ndimage  # noqa: PLC0415 - loaded lazily, only when used
    from skimage.transform import resize  # noqa: PLC0415 - loaded lazily, only when used

    h, w = ink.shape
    f = max(1, min(max(h, w) // 128, min(h, w)))  # a block fits the short side too
    small = ink[: h // f * f, : w // f * f].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    size = max(3, min(small.shape) // 4)
    background = ndimage.uniform_filter(ndimage.grey_opening(small, size=(size, size)), size)
    if f > 1 or background.shape != ink.shape:
        background = resize(background, (h, w), order=1, mode="edge")
    return np.clip(ink - background, 0.0, None)


def _group_components(keep, objects, merge_all):
    """Labels grouped into digits: components whose columns overlap belong together."""
    if merge_all:
        return [list(keep)]
    spans = sorted((objects[i - 1][1].start, objects[i - 1][1].stop, i) for i in keep)
    groups, g_start, g_stop = [], None, None
    for start, stop, i in spans:
        if groups:
            overlap = min(stop, g_stop) - max(start, g_start)
            narrower = min(stop - start, g_stop - g_start)
            if overlap > 0.3 * narrower:
                groups[-1].append(i)
                g_start, g_stop = min(g_start, start), max(g_stop, stop)
                continue
        groups.append([i])
        g_start, g_stop = start, stop
    return groups


def _place(patch, mask):
    """Crop-tight patch (0-1, ink bright) -> 28x28 uint8 MNIST digit."""
    from scipy import ndimage  # noqa: PLC0415 - loaded lazily, only when used
    from skimage.morphology import skeletonize  # noqa: PLC0415 - loaded lazily, only when used
    from skimage.transform import resize  # noqa: PLC0415 - loaded lazily, only when used

    rows, cols = np.flatnonzero(patch.any(1)), np.flatnonzero(patch.any(0))
    patch = patch[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    mask = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] & (patch > 0.5)
    ph, pw = patch.shape
    scale = MNIST_BOX / _core_side(patch)

    # Thin pen strokes on a large image would vanish when shrunk: thicken them to
    # about MNIST's stroke width first.
    skeleton = skeletonize(mask).sum() if mask.any() else 0
    if skeleton:
        width = mask.sum() / skeleton
        want = 0.8 * MNIST_STROKE / scale
        if width < want and (radius := int(round((want - width) / 2))) >= 1:
            patch = ndimage.grey_dilation(np.pad(patch, radius), footprint=_disk(radius))
            ph, pw = patch.shape
            scale = MNIST_BOX / _core_side(patch)
    scale = min(scale, MNIST_SIDE / max(ph, pw))  # the soft rim must still fit on 28x28

    out_h = max(1, int(round(ph * scale)))
    out_w = max(1, int(round(pw * scale)))
    small = resize(patch, (out_h, out_w), anti_aliasing=scale < 1, preserve_range=True,
                   mode="constant", order=1)
    small = np.clip(small, 0.0, 1.0)
    if small.max() > 0:
        small = small / small.max()

    canvas = np.zeros((MNIST_SIDE, MNIST_SIDE))
    cy, cx = ndimage.center_of_mass(small) if small.sum() > 0 else (out_h / 2, out_w / 2)
    top = int(np.clip(round(MNIST_SIDE / 2 - cy), 0, MNIST_SIDE - out_h))
    left = int(np.clip(round(MNIST_SIDE / 2 - cx), 0, MNIST_SIDE - out_w))
    canvas[top:top + out_h, left:left + out_w] = small
    return np.round(255 * canvas).astype(np.uint8)


def _core_side(patch):
    """Longer side of the box around the strokes' cores (> half intensity): MNIST's
    20 px is the size of the digit before anti-aliasing, its soft rim lies outside."""
    core = patch > CORE_LEVEL * patch.max()
    rows, cols = np.flatnonzero(core.any(1)), np.flatnonzero(core.any(0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


def _disk(radius):
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def prepare_image(source, multiple=True, max_side=MAX_SIDE) -> PreparedImage:
    """:func:`load_image` (for a path) then :func:`to_mnist`."""
    if isinstance(source, (str, Path)):
        return to_mnist(load_image(source, max_side=max_side), multiple=multiple,
                        source=str(source))
    return to_mnist(source, multiple=multiple)


def deskew(images):
    """Straighten slanted digits: shear each image so its second moments are upright.

    The shear that removes the covariance of ink row/column positions (mu11 / mu02),
    about the image centre, as in the classic MNIST preprocessing (LeCun et al.'s
    "deskewing"). Bilinear interpolation; blank images are returned unchanged. The
    whole batch is resampled in one ``scipy.ndimage.map_coordinates`` call.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)

    Returns
    -------
    ndarray of shape (n, h, w), float32
    """
    from scipy import ndimage  # noqa: PLC0415 - loaded lazily, only when used

    images = np.asarray(images)
    n, h, w = images.shape
    img = images.astype(np.float32)
    rows = np.arange(h, dtype=np.float32)[None, :, None]
    cols = np.arange(w, dtype=np.float32)[None, None, :]
    mass = img.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1)
    r_mean = (img * rows).sum(axis=(1, 2)) / safe
    c_mean = (img * cols).sum(axis=(1, 2)) / safe
    dr = rows - r_mean[:, None, None]
    dc = cols - c_mean[:, None, None]
    mu11 = (img * dr * dc).sum(axis=(1, 2))
    mu02 = (img * dr * dr).sum(axis=(1, 2))
    skew = np.where((mass > 0) & (mu02 > 1e-2 * safe), mu11 / np.where(mu02 > 0, mu02, 1), 0)
    # output pixel (r, c) samples input (r, c + skew * (r - centre_row))
    centre = (h - 1) / 2.0
    src_r = np.broadcast_to(rows, (n, h, w))
    src_c = cols + skew[:, None, None] * (rows - centre)
    src_n = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, h, w))
    coords = np.stack([src_n, src_r, np.broadcast_to(src_c, (n, h, w))])
    return ndimage.map_coordinates(img, coords, order=1, mode="constant", cval=0.0)
