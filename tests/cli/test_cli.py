"""The command line, run as users run it."""

import subprocess
import sys

import numpy as np
import pytest

from mnistbench import __version__
from mnistbench.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mnistbench", *args], capture_output=True, text=True, timeout=300
    )


def test_help_and_version():
    out = run_cli("--help")
    assert out.returncode == 0 and "fetch-data" in out.stdout and "list" in out.stdout
    out = run_cli("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_help_does_not_import_tensorflow():
    code = "import sys, mnistbench.cli as c; c.build_parser(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_list_shows_registered_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "mnist" in out


def test_fetch_data_digits(capsys):
    assert main(["fetch-data", "--dataset", "digits", "--quiet"]) == 0
    assert "digits: ok" in capsys.readouterr().out


def test_fetch_data_reports_failure_clearly(tmp_path, monkeypatch, capsys):
    from mnistbench.data import datasets

    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    monkeypatch.setattr(datasets, "DOWNLOADERS", {})
    with pytest.warns(UserWarning):
        code = main(["fetch-data", "--dataset", "mnist", "--cache-dir", str(tmp_path),
                     "--data-file", str(tmp_path / "missing.npz"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "could not load MNIST" in err and "MNISTBENCH_DATA" in err


def test_fetch_data_fashion_from_a_folder_and_not_by_default(tmp_path, monkeypatch, capsys,
                                                              fashion, mnist):
    from mnistbench.data import datasets
    from mnistbench.data.fashion_files import FASHION_FILES

    folder = tmp_path / "fashion"
    folder.mkdir()
    arrays = {"x_train": fashion.X_train, "y_train": fashion.y_train, "x_test": fashion.X_test,
              "y_test": fashion.y_test}
    for key, name in FASHION_FILES.items():
        a = arrays[key].astype(np.uint8)
        header = b"\x00\x00\x08" + bytes([a.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in a.shape)
        (folder / name.removesuffix(".gz")).write_bytes(header + a.tobytes())
    monkeypatch.setattr(datasets, "FASHION_DOWNLOADERS", {})
    monkeypatch.setattr(datasets, "FASHION_LOCAL_SOURCES", {})
    code = main(["fetch-data", "--dataset", "fashion-mnist", "--data-file", str(folder),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    assert f"fashion-mnist: ok, train (60000, 28, 28) test (10000, 28, 28) uint8, source " \
           f"file:{folder}" in capsys.readouterr().out
    # without --dataset: the default datasets only (a machine without Fashion-MNIST passes)
    assert main(["fetch-data", "--quiet"]) == 0  # MNIST from the cache the fixture filled
    out = capsys.readouterr().out
    assert "digits: ok" in out and "mnist: ok" in out and "fashion-mnist" not in out


@pytest.mark.e2e
def test_train_refuses_all_as_one_dataset():
    out = run_cli("train", "--model", "logreg", "--dataset", "all", "--output", "x.skops")
    assert out.returncode == 2 and "a model is trained on one" in out.stderr


def test_unknown_dataset_is_an_argparse_error():
    out = run_cli("fetch-data", "--dataset", "nope")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_info_reports_backend_gpus_and_xgboost():
    import json

    out = run_cli("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    for key in ("cpu", "keras_backend", "keras_device", "xgboost_built_with_cuda",
                "xgboost_gpu_usable", "nvidia_smi_gpus", "device_auto"):
        assert key in info
    on_gpu = info["keras_device"].startswith("gpu")
    assert info["device_auto"]["cnn"] == ("gpu" if on_gpu else "cpu")
    assert info["device_auto"]["xgboost"] == ("cuda" if info["xgboost_gpu_usable"] else "cpu")
    assert info["device_auto"]["cnn_precision"] == (
        "mixed_bfloat16" if info["cpu_native_bf16"] and not on_gpu
        and info["keras_device"].endswith("(tensorflow)") else "float32")
    text = run_cli("info")
    assert text.returncode == 0 and "--device auto:" in text.stdout
