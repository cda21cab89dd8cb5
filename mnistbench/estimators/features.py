"""Stateless image transformers: flattening/scaling and a batched HOG.

Both accept images as ``(n, h, w)``, ``(n, h, w, 1)`` or flat ``(n, h*w)`` (the
square side is inferred from the feature count), so every pipeline takes the
raw uint8 images of any registered dataset.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from mnistbench.data.imaging import deskew

__all__ = ["ROWS_STEP", "DeskewTransformer", "HOGTransformer", "ImageFlattener", "check_greyscale",
           "check_image_shape", "check_labels", "deskew", "hog_batch", "image_shape_for",
           "images_from", "rows_of_pixels", "takes_images"]

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


def image_shape_for(n_features, image_shape=None):
    """``(h, w)`` of images stored as rows of ``n_features`` pixels.

    ``image_shape`` if given (one entry may be -1, as in ``numpy.reshape``), else
    the square side (784 -> 28x28, 64 -> 8x8).
    """
    if image_shape is not None:
        try:
            h, w = np.empty(n_features, dtype=np.bool_).reshape(tuple(image_shape)).shape
        except ValueError:
            raise ValueError(
                f"image_shape={tuple(image_shape)} does not fit {n_features} features per row"
            ) from None
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which is not a square image "
            "(784 -> 28x28, 64 -> 8x8). Pass images as (n, h, w), or set "
            "image_shape=(h, w) (image_shape=(1, -1) treats each row as a 1-pixel-high strip)"
        )
    return side, side


def images_from(X, image_shape=None):
    """Return ``X`` as ``(n, h, w)`` (a view where possible).

    Flat rows are read as square images unless ``image_shape`` says otherwise.
    """
    X = check_greyscale(np.asarray(X))
    if X.ndim == 4:
        return X[..., 0]
    if X.ndim == 3:
        return X
    if X.ndim == 2:
        return X.reshape(len(X), *image_shape_for(X.shape[1], image_shape))
    raise ValueError(
        f"X has shape {X.shape}; expected greyscale images (n, h*w), (n, h, w) or (n, h, w, 1)"
    )


def _validated_images(estimator, X, reset):
    """Validate X (any image form) for a fitted-shape transformer.

    Returns ``(images (n, h, w), (h, w) if X came as images else None)``; with
    ``reset`` the shape comes from X or ``estimator.image_shape``, otherwise X must
    match the fitted ``image_shape_``.
    """
    X, shape = _flatten(X)
    flat = validate_data(estimator, X, reset=reset)
    if reset:
        return images_from(flat, shape if shape is not None else estimator.image_shape), shape
    check_image_shape(shape, estimator.image_shape_)
    return images_from(flat, estimator.image_shape_), shape


def check_image_shape(shape, fitted):
    """Refuse images of ``shape`` (h, w) when a model was fitted on ``fitted`` (h, w);
    None for either (flat rows) passes: their width is checked as features."""
    if shape is not None and fitted is not None and tuple(shape) != tuple(fitted):
        raise ValueError(f"X holds images of {shape[0]}x{shape[1]}, but the model was fitted on "
                         f"images of {fitted[0]}x{fitted[1]}; give images of that shape (or flat "
                         f"rows of {fitted[0] * fitted[1]} pixels)")


def check_greyscale(X):
    """Refuse colour images, (n, h, w, 3) or (n, h, w, 4), and other 4-D shapes whose last
    axis is not a single grey channel, with the fix; return X unchanged otherwise.

    Without this, a pixel model would flatten 8x8 RGB images into 192 "features" and
    train on them silently.
    """
    if getattr(X, "ndim", 0) == 4 and X.shape[-1] != 1:
        if X.shape[-1] in (3, 4):
            raise ValueError(
                f"X has {X.shape[-1]} colour channels (shape {X.shape}); the models take "
                "greyscale images: convert first, e.g. skimage.color.rgb2gray(X) or "
                "X.mean(axis=-1)"
            )
        raise ValueError(
            f"X has shape {X.shape}; expected (n, h, w) or (n, h, w, 1) greyscale images"
        )
    return X


def _flatten(X):
    """(flat rows, (h, w) if X came as images else None); sparse input passes untouched
    so that ``validate_data`` reports it."""
    if hasattr(X, "toarray"):
        return X, None
    X = check_greyscale(np.asarray(X))
    if X.ndim in (3, 4):
        return X.reshape(len(X), -1), X.shape[1:3]
    return X, None


# --------------------------------------------------------------------------- HOG
def _cell_bounds(cell, n_cells):
    """Pixel indices summed for each cell along one axis, and the cell owning each.

    skimage (>= 0.19) sums whole ``cell``-wide tiles; pixels past the last whole
    cell are ignored.
    """
    idx = np.arange(n_cells * cell)
    return idx, idx // cell


@functools.lru_cache(maxsize=8)
def _int8_gradient_tables(orientations):
    """Magnitude and orientation bin of every 8-bit gradient pair (gr, gc) in [-255, 255].

    Computed with exactly skimage's float64 formulas, so looking a pixel up gives
    the same values as computing it.
    """
    g = np.arange(-255, 256, dtype=np.float64)
    gr, gc = np.meshgrid(g, g, indexing="ij")
    magnitude = np.hypot(gc, gr).ravel()
    orientation = (np.arctan2(gr, gc) * (180 / np.pi) % 180).ravel()
    bins = np.searchsorted(_bin_edges(orientations), orientation, side="right") - 1
    return magnitude, bins.astype(np.int64)


def _bin_edges(orientations):
    # As skimage's Cython: computed in double, stored in a C float.
    return np.array(
        [np.float32(180.0 / orientations * i) for i in range(orientations + 1)], dtype=np.float64
    )


def _normalize_blocks_inplace(blocks, method, eps=1e-5):
    """skimage's block normalisations on rows of ``blocks`` (one block per row), in place.

    Blocks are float32 (skimage uses float64): the results agree to ~1e-7. The first
    sum of squares is taken in float64, as skimage does: in float32 it overflows for
    pixel values above ~1e18, and every feature would silently become 0.
    """
    eps = np.float32(eps)
    if method in ("L1", "L1-sqrt"):
        # histogram entries are magnitudes, never negative: |x| = x
        blocks /= (blocks.sum(axis=1) + eps)[:, None]
        if method == "L1-sqrt":
            np.sqrt(blocks, out=blocks)
        return
    if method not in ("L2", "L2-Hys"):
        raise ValueError(f"block_norm={method!r} is not one of {BLOCK_NORMS}")
    squares = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64)
    blocks /= np.sqrt(squares + float(eps) ** 2).astype(np.float32)[:, None]
    if method == "L2-Hys":
        np.minimum(blocks, np.float32(0.2), out=blocks)
        blocks /= np.sqrt(np.einsum("ij,ij->i", blocks, blocks) + eps * eps)[:, None]


def hog_batch(
    images,
    orientations=9,
    pixels_per_cell=(8, 8),
    cells_per_block=(3, 3),
    block_norm="L2-Hys",
    transform_sqrt=False,
    chunk_size=1024,
):
    """HOG features of many greyscale images at once, equal to ``skimage.feature.hog``.

    Same parameters and output (per image, ``feature_vector=True``) as skimage's
    ``hog`` on a 2-D image, computed for the whole batch with NumPy instead of one
    image at a time.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)

    Returns
    -------
    ndarray of shape (n, n_features), float32
        skimage returns float64 for most inputs; the values agree to ~1e-7.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, h, w), got shape {images.shape}")
    n, h, w = images.shape
    c_row, c_col = pixels_per_cell
    b_row, b_col = cells_per_block
    n_cells_row, n_cells_col = h // c_row, w // c_col
    n_blocks_row, n_blocks_col = n_cells_row - b_row + 1, n_cells_col - b_col + 1
    if n_blocks_row <= 0 or n_blocks_col <= 0:
        raise ValueError(
            f"{h}x{w} images are too small for pixels_per_cell={tuple(pixels_per_cell)} and "
            f"cells_per_block={tuple(cells_per_block)}: they need at least "
            f"{b_row * c_row} rows and {b_col * c_col} cols"
        )
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"block_norm={block_norm!r} is not one of {BLOCK_NORMS}")
    # skimage: float32 stays float32 (float16 too); everything else becomes float64.
    float_dtype = np.float32 if images.dtype in (np.float16, np.float32) else np.float64

    edges = _bin_edges(orientations)
    # Cell of each pixel (whole cells only; pixels past the last whole cell are ignored).
    rows, row_cell = _cell_bounds(c_row, n_cells_row)
    cols, col_cell = _cell_bounds(c_col, n_cells_col)
    cell_of_pixel = np.full((h, w), -1, dtype=np.int64)
    cell_of_pixel[: len(rows), : len(cols)] = row_cell[:, None] * n_cells_col + col_cell[None, :]
    cell_of_pixel = cell_of_pixel.ravel()
    cell_offset = cell_of_pixel * orientations  # start of each pixel's cell histogram
    offsets = {}  # chunk length -> flat histogram offset of every pixel of the chunk
    n_cells = n_cells_row * n_cells_col
    # 8-bit images: exact int16 gradients and table look-ups instead of hypot/arctan2.
    use_tables = images.dtype in (np.uint8, np.int8, np.bool_) and not transform_sqrt
    grad_dtype = np.int16 if use_tables else float_dtype
    if use_tables:
        mag_table, bin_table = _int8_gradient_tables(orientations)

    n_features = n_blocks_row * n_blocks_col * b_row * b_col * orientations
    out = np.empty((n, n_features), dtype=np.float32)
    work_dtype = np.int16 if use_tables else float_dtype
    # Gradient buffers reused by every chunk; their border rows/cols stay 0, as in skimage.
    row_buf = np.zeros((min(chunk_size, n), h, w), dtype=work_dtype)
    col_buf = np.zeros((min(chunk_size, n), h, w), dtype=work_dtype)
    for start in range(0, n, chunk_size):
        img = images[start : start + chunk_size]
        m = len(img)
        img = img.astype(grad_dtype, copy=False)
        if transform_sqrt:
            img = np.sqrt(img.astype(float_dtype, copy=False))
        g_row, g_col = row_buf[:m], col_buf[:m]
        np.subtract(img[:, 2:, :], img[:, :-2, :], out=g_row[:, 1:-1, :])
        np.subtract(img[:, :, 2:], img[:, :, :-2], out=g_col[:, :, 1:-1])
        g_row, g_col = g_row.reshape(-1), g_col.reshape(-1)
        # Only pixels with a gradient vote (zero magnitude adds zero): most of MNIST.
        # For integers, g_row | g_col is non-zero exactly where either gradient is.
        voting = (g_row | g_col) if use_tables else ((g_row != 0) | (g_col != 0))
        idx = np.flatnonzero(voting)
        gr, gc = g_row[idx], g_col[idx]
        if use_tables:
            code = (gr.astype(np.int64) + 255) * 511 + (gc + 255)
            magnitude, bins = mag_table[code], bin_table[code]
        else:
            gr, gc = gr.astype(np.float64), gc.astype(np.float64)
            magnitude = np.hypot(gc, gr)
            orientation = np.arctan2(gr, gc) * (180 / np.pi) % 180
            bins = np.searchsorted(edges, orientation, side="right") - 1
        n_hist = m * n_cells * orientations
        if m not in offsets:  # where each pixel's histogram starts; outside cells -> trash
            base = np.arange(m)[:, None] * (n_cells * orientations) + cell_offset[None, :]
            base[:, cell_of_pixel < 0] = n_hist
            offsets[m] = base.ravel()
        flat = offsets[m][idx] + bins
        hist = np.bincount(flat, weights=magnitude, minlength=n_hist + orientations)[:n_hist]
        # skimage sums each cell in a C float and divides it by the cell's area in
        # float arithmetic: the same rounding, so the histograms are identical.
        hist = hist.astype(np.float32) / np.float32(c_row * c_col)
        hist = hist.reshape(m, n_cells_row, n_cells_col, orientations)
        # Blocks in skimage's order (m, blocks_row, blocks_col, b_row, b_col, orientations),
        # built and normalised in place in the output.
        blocks = out[start : start + m].reshape(m, n_blocks_row, n_blocks_col, b_row, b_col,
                                                orientations)
        for i in range(b_row):
            for j in range(b_col):
                blocks[:, :, :, i, j, :] = hist[:, i : i + n_blocks_row, j : j + n_blocks_col, :]
        _normalize_blocks_inplace(blocks.reshape(m * n_blocks_row * n_blocks_col, -1), block_norm)
    return out


class HOGTransformer(TransformerMixin, BaseEstimator):
    """Histogram of Oriented Gradients for a batch of greyscale images.

    A stateless scikit-learn transformer with skimage's HOG parameters. The
    features equal ``skimage.feature.hog`` per image (tested to 1e-6) but are
    computed for the whole batch at once with NumPy, many times faster than a
    per-image loop. Being stateless (nothing is learned from the data but its
    shape), its output can be cached across CV folds without leakage.

    Parameters
    ----------
    orientations : int, default=9
    pixels_per_cell : tuple (int, int) or "auto", default="auto"
        "auto" picks ``max(2, side // 7)`` square cells: 4x4 on 28x28 MNIST,
        2x2 on 8x8 digits.
    cells_per_block : tuple (int, int), default=(2, 2)
    block_norm : {"L2-Hys", "L2", "L1", "L1-sqrt"}, default="L2-Hys"
    transform_sqrt : bool, default=False
    image_shape : tuple (h, w) or None, default=None
        How to read flat rows; None infers a square side. One entry may be -1, as
        in ``numpy.reshape``.

    Attributes
    ----------
    n_features_in_ : int
        Pixels per image.
    image_shape_ : tuple
        ``(h, w)``, inferred from ``n_features_in_`` (square) or the input's shape.
    pixels_per_cell_ : tuple
        The cell size used.
    """

    _mnistbench_input = "images"  # a run gives it images (n, h, w)
    _parameter_constraints = {
        "orientations": [Interval(numbers.Integral, 1, None, closed="left")],
        "pixels_per_cell": [StrOptions({"auto"}), tuple, list],
        "cells_per_block": [tuple, list],
        "block_norm": [StrOptions(set(BLOCK_NORMS))],
        "transform_sqrt": ["boolean"],
        "image_shape": [tuple, list, None],
    }

    def __init__(
        self,
        orientations=9,
        pixels_per_cell="auto",
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        transform_sqrt=False,
        image_shape=None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_shape = image_shape

    def fit(self, X, y=None):
        """Record the image shape; nothing is learned from pixel values."""
        self._validate_params()
        images, _ = _validated_images(self, X, reset=True)
        self.image_shape_ = images.shape[1:]
        if self.pixels_per_cell == "auto":
            side = max(2, min(self.image_shape_) // 7)
            self.pixels_per_cell_ = (side, side)
        else:
            self.pixels_per_cell_ = tuple(self.pixels_per_cell)
        # fail now, with the fix, if the image is too small for these cells/blocks
        hog_batch(images[:1], self.orientations, self.pixels_per_cell_, self.cells_per_block,
                  self.block_norm, self.transform_sqrt)
        return self

    def transform(self, X):
        """HOG features, shape (n, n_hog_features)."""
        check_is_fitted(self)
        images, _ = _validated_images(self, X, reset=False)
        return hog_batch(images, self.orientations, self.pixels_per_cell_, self.cells_per_block,
                         self.block_norm, self.transform_sqrt)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]  # features are always float32
        return tags


class ImageFlattener(TransformerMixin, BaseEstimator):
    """Flatten images to ``(n, h*w)`` and optionally divide by the largest pixel seen in fit.

    Parameters
    ----------
    rescale : bool, default=True
        Divide by ``scale_`` (255 for MNIST, 16 for digits) so pixels lie in [0, 1].

    Attributes
    ----------
    image_shape_ : tuple (h, w) or None
        Images of another shape are refused (flat rows of the right width pass).
    """

    _mnistbench_input = "images"  # a run gives it images (n, h, w)
    _parameter_constraints = {"rescale": ["boolean"]}

    def __init__(self, rescale=True):
        self.rescale = rescale

    def fit(self, X, y=None):
        self._validate_params()
        flat = self._flat(X, reset=True)
        self.scale_ = float(np.abs(flat).max()) or 1.0
        return self

    def transform(self, X):
        check_is_fitted(self)
        flat = self._flat(X, reset=False)
        flat = flat.astype(np.float32) if flat.dtype.itemsize < 4 else flat
        return flat / self.scale_ if self.rescale else flat

    def _flat(self, X, reset):
        flat, shape = _flatten(X)
        if reset:
            self.image_shape_ = None if shape is None else tuple(int(s) for s in shape)
        else:  # a model saved before image_shape_ existed checks the width only
            check_image_shape(shape, getattr(self, "image_shape_", None))
        return validate_data(self, flat, reset=reset, dtype="numeric")


# --------------------------------------------------------------------------- deskew (the
# function itself lives in mnistbench.data.imaging, beside the other image processing)
class DeskewTransformer(TransformerMixin, BaseEstimator):
    """Stateless sklearn transformer: :func:`deskew` each image; output in the input's form.

    Flat input gives flat output, (n, h, w) gives (n, h, w). Nothing is learned from
    pixel values, so its output can be cached across CV folds.

    Parameters
    ----------
    image_shape : tuple (h, w) or None
        How to read flat rows (None: square).
    """

    _mnistbench_input = "images"  # a run gives it images (n, h, w)
    _parameter_constraints = {"image_shape": [tuple, list, None]}

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    def fit(self, X, y=None):
        self._validate_params()
        self.image_shape_ = _validated_images(self, X, reset=True)[0].shape[1:]
        return self

    def transform(self, X):
        check_is_fitted(self)
        images, shape = _validated_images(self, X, reset=False)
        out = deskew(images)
        return out if shape else out.reshape(len(out), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def check_labels(y, n):
    """The labels of ``n`` images as a 1d array, or a ValueError that names the fix."""
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; using y.ravel()",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"y has shape {y.shape}; KerasCNNClassifier predicts one label per image: pass "
            "a 1d array of labels (not one-hot: use y.argmax(axis=1))"
        )
    if len(y) != n:
        raise ValueError(
            f"X and y have different lengths: {n} images but {len(y)} labels"
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity")
        if not np.array_equal(y, np.rint(y)):
            raise ValueError(
                "Unknown label type: continuous. y holds non-integer floats; a classifier "
                "needs class labels"
            )
    n_classes = len(np.unique(y))
    if n_classes < 2:
        raise ValueError(
            f"y has {n_classes} class; a classifier needs at least 2 classes to learn from"
        )
    return y


# --------------------------------------------------------------------------- inputs
#: The name a plain estimator has in the pipeline that gives it flat rows.
ROWS_STEP = "model"


def takes_images(est) -> bool:
    """Whether ``est`` says it takes images ``(n, h, w)``: the CNN, mnistbench's image
    transformers (``_mnistbench_input = "images"``) and pipelines that start with one."""
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and steps:
        return takes_images(steps[0][1])
    return getattr(est, "_mnistbench_input", None) == "images"


def rows_of_pixels(est, name=ROWS_STEP):
    """``est`` behind a step that turns images into flat rows of their raw pixels."""
    from sklearn.pipeline import Pipeline  # noqa: PLC0415 - only for a plain estimator

    return Pipeline([("images_to_rows", ImageFlattener(rescale=False)), (name, est)])
