"""Reading a folder of a user's own images (one sub-folder per class) into arrays: the
files of each class, a fingerprint of them for the cache, the images themselves (in MNIST
form with :func:`mnistbench.data.imaging.to_mnist`, or as they are) and the train/test split.
:func:`load_image_folder` puts these together into a Dataset."""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mnistbench.data.imaging import load_image, to_mnist
from mnistbench.data.mnist_files import _atomic_save_npz
from mnistbench.data.sources import cache_dir
from mnistbench.data.types import Dataset
from mnistbench.errors import AmbiguousDataError, DataUnavailableError, DataVerificationError
from mnistbench.log import log_progress, progress_logging

FOLDER_PREFIX = "folder:"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _class_files(root: Path) -> dict:
    """{class name: [image paths]} for the class sub-folders of ``root``."""
    out = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.rglob("*")
                       if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                       and not f.name.startswith("."))
        if files:
            out[sub.name] = files
    return out


def _is_number(name: str) -> bool:
    """A class folder named by an integer in ASCII digits (``7``, ``07``, ``-1``): its
    label is that number. Other digits (``٧``, ``７``) keep their folder name as a label."""
    digits = name[1:] if name.startswith("-") else name
    return digits.isascii() and digits.isdigit()


def _check_one_folder_per_label(root, names) -> None:
    """Integer class folders become integer labels: two folders of one number (``1`` and
    ``01``) would merge into one class without a word, so they are refused."""
    by_label: dict = {}
    for name in names:
        by_label.setdefault(int(name), []).append(name)
    merged = [sorted(v) for v in by_label.values() if len(v) > 1]
    if merged:
        shown = "; ".join(" and ".join(f"{root / n}" for n in group) for group in merged)
        raise AmbiguousDataError(
            f"{root}: class folders {shown} name one label; merge them into one folder or "
            "rename one (integer folder names are read as numbers)")


def _folder_fingerprint(splits: dict, prepare: bool) -> str:
    h = hashlib.sha256(f"format 1, prepare={prepare}".encode())
    for split, classes in splits.items():
        for label, files in classes.items():
            for f in files:
                st = f.stat()
                h.update(f"{split}/{label}/{f.name}/{st.st_size}/{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _read_folder_images(files, prepare, errors):

    images = []
    for f in files:
        try:
            if prepare:
                images.append(to_mnist(load_image(f), multiple=False, source=str(f)).digits[0])
            else:
                images.append(np.round(load_image(f, max_side=10**9) * 255).astype(np.uint8))
        except ValueError as exc:  # unreadable, blank, too large: skip it, say so at the end
            errors.append(str(exc))
            images.append(None)
    return images


def _cached_folder(cache_path: Path) -> dict | None:
    if not cache_path.exists():
        return None
    try:
        with np.load(cache_path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        warnings.warn(f"{cache_path}: a damaged cache file; the folder is read again",
                      stacklevel=3)
        return None


def _read_folder(root, splits, prepare, verbose) -> dict:
    """``x_<split>`` / ``y_<split>`` arrays of a folder's images; unreadable or blank files
    are skipped with one warning naming them."""
    errors = []
    arrays = {}
    for split, classes in splits.items():
        xs, ys = [], []
        for label, files in classes.items():
            log_progress(f"{root}: reading {len(files)} image(s) of class {label!r} ({split})", verbose)
            for img in _read_folder_images(files, prepare, errors):
                if img is not None:
                    xs.append(img)
                    ys.append(label)
        if not xs:
            total = sum(len(files) for files in classes.values())
            where = "" if split == "all" else f" in {split}/"
            raise DataVerificationError(
                f"{root}: none of the {total} image(s){where} could be read (first: "
                f"{errors[0] if errors else 'no image files'}); add readable images with "
                "visible ink")
        shapes = {x.shape for x in xs}
        if len(shapes) > 1:
            raise DataVerificationError(
                f"{root}: images have different sizes ({sorted(shapes)[:4]}...); use "
                "prepare=True (the default) to bring them all to 28x28 MNIST form"
            )
        arrays[f"x_{split}"] = np.stack(xs) if xs else np.zeros((0, 28, 28), np.uint8)
        arrays[f"y_{split}"] = np.array(ys)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        warnings.warn(f"{root}: skipped {len(errors)} image(s): {shown}", stacklevel=3)
    return arrays


def _folder_split(root, arrays, test_size, random_state):
    """The folder's own train/test split, or a stratified split of all its images."""
    if "x_all" not in arrays:
        return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - loaded lazily, only when used

    y = arrays["y_all"]
    classes, counts = np.unique(y, return_counts=True)
    n_test = int(np.ceil(test_size * len(y)))
    if counts.min() < 2 or n_test < len(classes) or len(y) - n_test < len(classes):
        sizes = dict(zip(classes.tolist(), counts.tolist(), strict=True))
        need = int(np.ceil(len(classes) / min(test_size, 1 - test_size)))
        raise DataVerificationError(
            f"{root}: {len(y)} readable image(s) in {len(classes)} classes (sizes: {sizes}) "
            f"are too few for a stratified train/test split with {test_size:.0%} test: each "
            f"class needs images on both sides; add images (at least {need} in all, 2 per "
            "class), or make train/ and test/ folders of your own")
    X_train, X_test, y_train, y_test = train_test_split(
        arrays["x_all"], y, test_size=test_size, stratify=y, random_state=random_state)
    return X_train, y_train, X_test, y_test


def load_image_folder(path, *, prepare=True, test_size=0.25, random_state=0, cache=None,
                      verbose=False, **source_options) -> Dataset:
    """A folder of images with one sub-folder per class, as a :class:`Dataset`.

    Layout: ``PATH/<class>/*.png`` (any of PNG, JPEG, BMP, GIF, TIFF, WebP; files in
    nested folders count for their class), split into train/test with a fixed
    stratified split, or ``PATH/train/<class>/...`` and ``PATH/test/<class>/...``
    for a split of your own. Class names that are all integers become integer
    labels, others stay strings.

    Parameters
    ----------
    prepare : bool, default=True
        Put every image into MNIST form with :func:`mnistbench.data.imaging.to_mnist`
        (28x28, white digit on black, centred; any size, polarity or colour in).
        False keeps the images' pixels as grey 0-255; they must then all have one size.
    test_size, random_state :
        The stratified split, when the folder has no ``train``/``test`` of its own.
    cache : path, optional
        Where the prepared arrays are cached (default: :func:`cache_dir`); the cache
        is keyed by every file's name, size and modification time.
    **source_options
        Accepted for a uniform ``load_dataset`` call and ignored.

    Unreadable or blank files are skipped with one warning naming them.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(
            f"{root}: no such folder; a folder dataset is a directory with one sub-folder per "
            "class (e.g. digits/0/*.png, digits/1/*.png, ...)"
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        splits = {"train": _class_files(root / "train"), "test": _class_files(root / "test")}
    else:
        splits = {"all": _class_files(root)}
    found = {label for classes in splits.values() for label in classes}
    if len(found) < 2:
        raise DataUnavailableError(
            f"{root}: found {len(found)} class folder(s) with images ({sorted(found)}); need at "
            f"least two sub-folders holding images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    if all(_is_number(name) for name in found):  # before reading any image
        _check_one_folder_per_label(root, found)
    fingerprint = _folder_fingerprint(splits, prepare)
    cache_path = cache_dir(cache) / "folders" / f"{fingerprint}.npz"
    arrays = _cached_folder(cache_path)
    if arrays is None:
        with progress_logging(quiet=not verbose):
            arrays = _read_folder(root, splits, prepare, verbose)
        try:
            _atomic_save_npz(cache_path, arrays)
        except OSError:
            pass  # a read-only cache only costs time
    if any(len(arrays[k]) == 0 for k in arrays if k.startswith("y_")):  # an old cache
        raise DataVerificationError(f"{root}: no readable image in a split; add readable "
                                    "images with visible ink")
    labels = np.concatenate([arrays[k] for k in arrays if k.startswith("y_")])
    if all(_is_number(str(v)) for v in labels):
        arrays = {k: (v.astype(np.int64) if k.startswith("y_") else v) for k, v in arrays.items()}
    X_train, y_train, X_test, y_test = _folder_split(root, arrays, test_size, random_state)
    if len(y_train) == 0 or len(y_test) == 0:
        raise DataVerificationError(f"{root}: no readable images in the train or test split")
    return Dataset(
        name=FOLDER_PREFIX + str(path),
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        image_shape=X_train.shape[1:3],
        classes=np.unique(np.concatenate([y_train, y_test])),
        pixel_max=255,
        source=str(root.resolve()),
        description=f"images from {root} ({'prepared as MNIST digits' if prepare else 'as they are'})",
        extra={"fingerprint": fingerprint},
    )
