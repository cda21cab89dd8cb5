"""Fashion-MNIST's files: the canonical facts, the reader of its four IDX files (gzipped or
not) and of a Keras-style ``.npz``, the public download and Debian's packaged copy.
:func:`mnistbench.data.datasets.load_fashion_mnist` decides which source to try; this module only
reads and checks.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) has MNIST's form: 60,000 training and
10,000 test images, 28x28 uint8 grey levels, 10 balanced classes, here of clothing. Copies
are verified by the SHA-256 of the decoded arrays, not of the files: Debian's
``dataset-fashion-mnist`` package re-compresses the gz files, so their bytes differ from the
canonical ones while the arrays are the same.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from mnistbench.data.mnist_files import _arrays_from_npz, download_file, verify_arrays
from mnistbench.errors import DataVerificationError

#: SHA-256 of the decoded arrays (images uint8, labels int64, C order), as for MNIST.
FASHION_SHA256 = {
    "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    "y_train": "e3245b63f7c40d1c8b652835f19744d970c1613b40ddac6bcfc87b9c46e16a0b",
    "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
    "y_test": "d51d859896c55775b9e9e219b77ff03bcec1b6ac322f313544dc3f9e7bc94fae",
}
FASHION_TRAIN_LABEL_COUNTS = (6000,) * 10
FASHION_TEST_LABEL_COUNTS = (1000,) * 10
#: The label of each class index, as the dataset's authors name them.
FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                       "Shirt", "Sneaker", "Bag", "Ankle boot")

#: The four canonical files, by the array each holds.
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
#: Keras's public copy (what ``keras.datasets.fashion_mnist.load_data`` fetches).
FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: Where Debian's ``dataset-fashion-mnist`` package puts the four files.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CACHE_FILE_NAME = "fashion-mnist.npz"


def read_idx(raw: bytes, what: str) -> np.ndarray:
    """The uint8 array of an IDX file's bytes (gzipped or not): two zero bytes, type 0x08
    (unsigned byte), the number of dimensions, each dimension as a big-endian uint32, then
    the values."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataVerificationError(f"{what} is damaged or truncated ({exc})") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataVerificationError(f"{what} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataVerificationError(f"{what} is cut short in its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        raise DataVerificationError(
            f"{what} holds {len(raw) - header} values where its header says {size} "
            f"{'x'.join(map(str, dims))}; the file is damaged or cut short")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def arrays_from_idx_folder(folder) -> dict:
    """The four arrays of a folder holding the canonical IDX files (each gzipped or not)."""
    folder = Path(folder)
    arrays = {}
    for key, name in FASHION_FILES.items():
        path = folder / name
        if not path.is_file():
            path = folder / name.removesuffix(".gz")
        if not path.is_file():
            raise DataVerificationError(
                f"{folder} lacks {name}; expected the four IDX files "
                f"({', '.join(FASHION_FILES.values())})")
        arrays[key] = read_idx(path.read_bytes(), str(path))
    return arrays


def read_fashion_file(path) -> dict:
    """The arrays of an explicit source: a folder of the four IDX files or a Keras-style
    ``.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return arrays_from_idx_folder(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return _arrays_from_npz(path, layout="Keras's layout")


def verify_fashion_mnist(arrays: dict) -> dict:
    """Check arrays against canonical Fashion-MNIST; return them as uint8 / int64.

    Raises
    ------
    DataVerificationError
        Naming the first mismatch found.
    """
    return verify_arrays(arrays, FASHION_SHA256, FASHION_TRAIN_LABEL_COUNTS,
                         FASHION_TEST_LABEL_COUNTS)


def download_fashion(dest_dir: Path, verbose: bool) -> dict:
    """Download the four gz files of Keras's public copy (with a progress bar) and read them."""
    for name in FASHION_FILES.values():
        download_file(FASHION_URL + name, dest_dir / name, name, verbose)
    return arrays_from_idx_folder(dest_dir)


def debian_fashion(dest_dir: Path, verbose: bool) -> dict:
    """The files of Debian's ``dataset-fashion-mnist`` package, when it is installed."""
    if not DEBIAN_FASHION_DIR.is_dir():
        raise FileNotFoundError(
            f"{DEBIAN_FASHION_DIR} not found (Debian/Ubuntu: apt-get install "
            "dataset-fashion-mnist)")
    return arrays_from_idx_folder(DEBIAN_FASHION_DIR)
