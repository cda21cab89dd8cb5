"""The command line, run as users run it."""

import subprocess
import sys

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
    from mnistbench import datasets

    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    monkeypatch.setattr(datasets, "DOWNLOADERS", {})
    with pytest.warns(UserWarning):
        code = main(["fetch-data", "--dataset", "mnist", "--cache-dir", str(tmp_path),
                     "--data-file", str(tmp_path / "missing.npz"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "could not load MNIST" in err and "MNISTBENCH_DATA" in err


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
