"""A user's own arrays as a dataset: an ``.npz`` in Keras's layout, checked before any work
(:func:`mnistbench.data.datasets.load_npz_dataset` makes the Dataset)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from mnistbench.data.mnist_files import _arrays_from_npz
from mnistbench.errors import AmbiguousDataError, DataVerificationError

__all__ = ["check_pixel_max", "check_user_arrays", "read_user_npz", "write_user_npz"]


def read_user_npz(root: Path) -> tuple[dict, tuple, str]:
    """``(arrays, image_shape, fingerprint)`` of the ``.npz`` at ``root``: uint8 images
    ``(n, h, w)``, int64 or str labels, and a SHA-256 fingerprint of the four arrays
    (``arrays`` also holds ``pixel_max`` when the file declares it). Raises
    :class:`DataVerificationError` naming the array and the fix."""
    arrays = _arrays_from_npz_file(root)
    out, shape, fingerprint = check_user_arrays(root, arrays)
    if "pixel_max" in arrays:
        out["pixel_max"] = check_pixel_max(root, arrays["pixel_max"], out,
                                           floats=_floats(arrays))
    return out, shape, fingerprint


def write_user_npz(path: Path, arrays: dict, image_shape, pixel_max) -> None:
    """Save checked arrays where :func:`read_user_npz` reads them back, atomically (a
    reader never sees half a file; two writers of the same content agree)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays, image_shape=np.asarray(image_shape),
             pixel_max=np.asarray(pixel_max))
    os.replace(tmp, path)


def check_pixel_max(where, value, out, floats=False) -> int:
    """The largest possible pixel value of the converted images ``out`` (uint8 0-255).
    ``floats``: the images were floats in [0, 1], scaled to 0-255 here, so a
    ``pixel_max`` of 1 (theirs) is 255 (ours)."""
    try:
        top = float(np.ravel(value)[0]) if np.size(value) == 1 else None
    except (TypeError, ValueError):
        top = None
    if top is None or top != int(top):
        raise DataVerificationError(f"{where}: pixel_max is {value!r}, not a whole number; give "
                                    "the largest possible pixel value, e.g. 255 for 8-bit "
                                    "images or 16 for scikit-learn's digits")
    top = 255 if floats and top == 1 else int(top)
    highest = max(int(out["x_train"].max(initial=0)), int(out["x_test"].max(initial=0)))
    if not highest <= top <= 255:
        raise DataVerificationError(f"{where}: pixel_max is {value!r}; give the largest "
                                    f"possible pixel value, from {highest} to 255")
    return top


def check_user_arrays(where, arrays: dict) -> tuple[dict, tuple, str]:
    """:func:`read_user_npz`'s checks and conversions of the four arrays (and an optional
    ``image_shape``), the messages naming ``where`` they came from."""
    root = where
    shape = _npz_image_shape(root, arrays)
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1:
            raise DataVerificationError(f"{root}: y_{split} has shape {y.shape}; labels are one "
                                        "per image, shape (n,)")
        if len(x) != len(y):
            raise DataVerificationError(f"{root}: x_{split} has {len(x)} images but y_{split} "
                                        f"{len(y)} labels; they must match")
        out[f"x_{split}"] = _npz_pixels(root, f"x_{split}", x.reshape((len(x), *shape)))
        out[f"y_{split}"] = _labels(root, f"y_{split}", y)
    train, test = set(out["y_train"].tolist()), set(out["y_test"].tolist())
    if train != test:
        only = [f"only in {s}: {sorted(map(str, c))[:5]}" for s, c in
                (("y_train", train - test), ("y_test", test - train)) if c]
        raise DataVerificationError(f"{root}: the splits have different classes ({'; '.join(only)}); "
                                    "every class needs images in both x_train and x_test")
    if len(train) < 2:
        raise DataVerificationError(f"{root}: one class only; a classifier needs at least two")
    digest = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        digest.update(key.encode() + np.ascontiguousarray(out[key]).tobytes())
    return out, shape, digest.hexdigest()[:16]


def _floats(arrays) -> bool:
    return np.issubdtype(np.asarray(arrays["x_train"]).dtype, np.floating)


def _labels(root, key, y: np.ndarray) -> np.ndarray:
    """int64 labels from integers or whole floats, str labels from text; NaN or fractional
    labels (a float column read from a spreadsheet, say) are refused, never a class "nan"."""
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise AmbiguousDataError(
                f"{root}: {key} has {bad.size} label(s) that are not whole numbers (first "
                f"{y[bad[0]].item()!r} at index {int(bad[0])}); labels are class numbers or names: "
                "drop those images or fix their labels")
        return y.astype(np.int64)
    return y.astype(str)


def _arrays_from_npz_file(root: Path) -> dict:
    arrays = _arrays_from_npz(root, layout="Keras's layout")
    with np.load(root, allow_pickle=False) as npz:
        for key in ("image_shape", "pixel_max"):
            if key in npz.files:
                arrays[key] = npz[key]
    return arrays


def _npz_image_shape(root: Path, arrays: dict) -> tuple:
    x = arrays["x_train"]
    declared = arrays.get("image_shape")
    if declared is not None:
        shape = tuple(int(v) for v in np.ravel(declared))
        if len(shape) != 2 or min(shape) < 1:
            raise DataVerificationError(f"{root}: image_shape is {shape}; give (height, width)")
    elif x.ndim == 3:
        shape = tuple(x.shape[1:])
    elif x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise DataVerificationError(
                f"{root}: x_train rows have {x.shape[1]} pixels, not a square image; save the "
                "images as (n, height, width), or add image_shape=(height, width) to the file")
        shape = (side, side)
    else:
        raise DataVerificationError(f"{root}: x_train has shape {x.shape}; images are (n, height, "
                                    "width) or flat rows (n, height*width)")
    for key in ("x_train", "x_test"):
        a = arrays[key]
        if declared is not None and a.ndim == 3 and tuple(a.shape[1:]) != shape:
            raise AmbiguousDataError(
                f"{root}: image_shape is {shape[0]}x{shape[1]} but {key} holds "
                f"{a.shape[1]}x{a.shape[2]} images; give the images' own (height, width), or "
                "leave image_shape out")
        if a.ndim < 2 or int(np.prod(a.shape[1:])) != shape[0] * shape[1]:
            raise DataVerificationError(f"{root}: {key} has shape {a.shape}, which does not hold "
                                        f"{shape[0]}x{shape[1]} images")
    return shape


def _npz_pixels(root: Path, key: str, x: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 from integers 0-255 or floats in [0, 1]."""
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataVerificationError(f"{root}: {key} has pixels from {x.min()} to {x.max()}; "
                                        "integers must be 0-255")
        return x.astype(np.uint8)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataVerificationError(f"{root}: {key} has dtype {x.dtype}; pixels are numbers")
    if np.isnan(x).any():
        raise DataVerificationError(f"{root}: {key} has NaN pixels (first in image "
                                    f"{int(np.argwhere(np.isnan(x))[0][0])}); fill or drop them")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise DataVerificationError(f"{root}: {key} has float pixels from {x.min():g} to "
                                    f"{x.max():g}; floats must be in [0, 1] (or save uint8 0-255)")
    return np.rint(x * 255).astype(np.uint8)
