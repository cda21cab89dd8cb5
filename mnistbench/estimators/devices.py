"""Which device Keras trains on, asked of whichever backend Keras runs on.

Only the backend Keras already uses is imported, inside the functions, so this
module costs nothing until asked.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import threading
import warnings
from importlib import metadata

import numpy as np

from mnistbench._version import __version__
from mnistbench.hostinfo import host_description

__all__ = [
    "import_keras_quietly",
    "keras_device",
    "resolve_precision",
    "resolve_steps_per_execution",
    "resolve_xgboost_device",
    "xgboost_cuda_available",
]


@contextlib.contextmanager
def _native_stderr_to_devnull():
    """Send file descriptor 2 to /dev/null (C++ logs write there, not to sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras_quietly():
    """Import keras (and scikeras) without TensorFlow's C++ start-up chatter.

    On a CPU-only machine TensorFlow >= 2.19 prints oneDNN notices, "could not find
    cuda drivers" and a cuInit error at import, and ignores ``TF_CPP_MIN_LOG_LEVEL``
    for them (tensorflow/tensorflow#100442: they are logged before absl is
    initialised). None is actionable, so while the user has not chosen a level
    we set ``TF_CPP_MIN_LOG_LEVEL=2`` and hold native stderr for the import only (the
    variable is removed again afterwards: no side effect on the user's environment).
    Python exceptions still propagate. A level the user set is kept (and used after the
    import); the import itself stays quiet either way, since absl's "All log messages
    before absl::InitializeLog()" line ignores the level.

    TensorFlow's oneDNN kernels are switched on for the import (TensorFlow reads the
    switch there) unless the user set ``TF_ENABLE_ONEDNN_OPTS``: TensorFlow enables them
    by itself only on CPUs with AVX-512 neural-network instructions, yet on AVX2-only CPUs
    they train the small CNNs faster too (``python benchmarks/run.py cnn_throughput``). Results
    differ from the Eigen kernels' only by floating-point rounding.
    """
    if "keras" in sys.modules:
        import keras  # noqa: PLC0415 - loaded lazily, only when used
        import scikeras.wrappers  # noqa: PLC0415 - loaded lazily, only when used

        return keras
    user_level = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    if not user_level:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    user_onednn = "TF_ENABLE_ONEDNN_OPTS" in os.environ
    if not user_onednn:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    try:
        with _native_stderr_to_devnull():
            import keras  # noqa: PLC0415 - loaded lazily, only when used
            import scikeras.wrappers  # noqa: F401, PLC0415 - loaded lazily, only when used

            if keras.config.backend() == "tensorflow":
                import tensorflow as tf  # noqa: PLC0415 - loaded lazily, only when used

                tf.config.list_physical_devices("GPU")  # the cuInit probe logs here
                # "N out of the last N calls ... triggered tf.function retracing": expected
                # when every fold builds a fresh model; not actionable for our users.
                tf.get_logger().setLevel("ERROR")
    finally:
        # TensorFlow's C++ logger read the level once, at its first message; the user's
        # environment (and every process they start) is left as it was.
        if not user_level:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        if not user_onednn:
            os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
    return keras


_autotune_lock = threading.Lock()
_autotune_off = {"depth": 0, "original": None}


@contextlib.contextmanager
def tf_data_without_autotune():
    """While inside, the datasets Keras builds from arrays (TensorFlow backend) run without
    tf.data's autotuning.

    Tearing down an autotuned iterator waits for its autotuning thread, which sleeps out
    its optimisation period first, and that period grows to a minute: a fit stalled, CPU
    idle, for up to tens of seconds at the end of an epoch (Keras makes a new iterator for
    every epoch, every validation pass and every predict), most on large data, where
    epochs are long. Without autotuning the parallel map and the prefetch keep fixed
    sizes; the batches, their order and the results are the same. Keras offers no option
    for this, so its array adapter's ``get_tf_dataset`` is wrapped while any caller is
    inside (re-entrant and thread-safe; left alone where the module is not where this
    Keras keeps it). :class:`~mnistbench.estimators.scikeras_compat.KerasClassifierBase`
    fits and predicts inside it.
    """
    keras = import_keras_quietly()
    try:
        from keras.src.trainers.data_adapters import array_data_adapter  # noqa: PLC0415
    except ImportError:
        array_data_adapter = None
    if keras.config.backend() != "tensorflow" or array_data_adapter is None:
        yield
        return
    import tensorflow as tf  # noqa: PLC0415 - loaded lazily, only when used

    adapter = array_data_adapter.ArrayDataAdapter
    with _autotune_lock:
        if _autotune_off["depth"] == 0:
            original = _autotune_off["original"] = adapter.get_tf_dataset

            def get_tf_dataset(self):
                options = tf.data.Options()
                options.autotune.enabled = False
                return original(self).with_options(options)

            adapter.get_tf_dataset = get_tf_dataset
        _autotune_off["depth"] += 1
    try:
        yield
    finally:
        with _autotune_lock:
            _autotune_off["depth"] -= 1
            if _autotune_off["depth"] == 0:
                adapter.get_tf_dataset = _autotune_off["original"]


@functools.lru_cache(maxsize=1)
def keras_device() -> str:
    """Describe where Keras computes, e.g. ``"cpu (tensorflow)"`` or ``"gpu:NVIDIA H100 (jax)"``.

    Asked once per process: the backend's device list does not change after start-up.
    """
    import keras  # noqa: PLC0415 - loaded lazily, only when used

    backend = keras.config.backend()
    gpu_names: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415 - loaded lazily, only when used

            gpus = tf.config.list_physical_devices("GPU")
            for gpu in gpus:
                details = tf.config.experimental.get_device_details(gpu)
                gpu_names.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax  # noqa: PLC0415 - loaded lazily, only when used

            gpu_names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch  # noqa: PLC0415 - loaded lazily, only when used

            if torch.cuda.is_available():
                gpu_names = [torch.cuda.get_device_name(i)
                             for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - a failed probe means "no usable GPU"
        gpu_names = []
    if gpu_names:
        return f"gpu:{gpu_names[0]} ({backend})"
    return f"cpu ({backend})"


#: CPU flags (as in /proc/cpuinfo) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); without it
    bfloat16 is emulated and slower than float32. Linux only (reads /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return bool(set(line.split(":", 1)[1].split()) & set(BF16_CPU_FLAGS))
    except OSError:
        pass
    return False


def resolve_precision(precision="auto") -> str:
    """The Keras dtype policy for ``KerasCNNClassifier(precision=...)``.

    "auto" is "mixed_bfloat16" only where it was measured to pay: the TensorFlow
    backend computing on a CPU with native bfloat16 (about 2x per epoch for the
    default CNN on an AMD EPYC Zen 4, same accuracy; results/experiments/cnn_time_to_99.md).
    Everywhere else, GPUs included (not measured yet), "float32".
    """
    if precision != "auto":
        return precision
    import keras  # noqa: PLC0415 - loaded lazily, only when used

    if (keras.config.backend() == "tensorflow" and keras_device().startswith("cpu")
            and cpu_has_native_bf16()):
        return "mixed_bfloat16"
    return "float32"


def resolve_steps_per_execution(steps_per_execution="auto", callbacks=None) -> int:
    """Optimizer steps Keras runs per call into its compiled train function.

    "auto" is 32: a step of the small CNNs on 16 images costs little more than Python's
    per-call overhead, and 32 per call cut a fit's time with the same weights
    (results/experiments/cnn_steps_per_execution.md). It is 1 where that
    cannot apply or would surprise: the torch backend (Keras refuses more than 1 there) and
    user ``callbacks`` with batch hooks (Keras would call them once per 32 steps);
    epoch-level callbacks such as ``EarlyStopping`` keep 32.
    """
    if steps_per_execution != "auto":
        return int(steps_per_execution)
    import keras  # noqa: PLC0415 - loaded lazily, only when used

    base = keras.callbacks.Callback
    hooks = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
    # scikeras accepts nested lists of callbacks
    flat = [c for cb in callbacks or () for c in (cb if isinstance(cb, list) else [cb])]
    batch_hooks = any(getattr(type(cb), h, None) is not getattr(base, h)
                      for cb in flat for h in hooks)
    return 1 if batch_hooks or keras.config.backend() == "torch" else 32


@functools.lru_cache(maxsize=1)
def xgboost_cuda_available() -> bool:
    """True when this XGBoost was built with CUDA and can see a GPU.

    Asks XGBoost itself with a tiny fit on ``device="cuda"``: without a visible GPU
    it warns "No visible GPU is found" and falls back to the CPU.
    """
    try:
        import xgboost as xgb  # noqa: PLC0415 - loaded lazily, only when used
    except ImportError:
        return False
    if not xgb.build_info().get("USE_CUDA", False):
        return False

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            xgb.XGBClassifier(n_estimators=1, device="cuda", tree_method="hist", verbosity=1).fit(
                np.arange(8, dtype=np.float32).reshape(4, 2), np.array([0, 1, 0, 1])
            )
        except Exception:  # noqa: BLE001 - any failure means "not usable"
            return False
    return not any("GPU" in str(w.message) for w in caught)


def resolve_xgboost_device(device="auto", tree_method="hist"):
    """Map our device policy (and the old ``gpu_hist`` spelling) to XGBoost >= 2 arguments.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "gpu"} or "cuda:N"
        "auto" takes CUDA when XGBoost sees a GPU, else the CPU.
    tree_method : str
        ``"gpu_hist"`` (XGBoost < 2) is accepted and means ``tree_method="hist",
        device="cuda"``; XGBoost 3 itself rejects it.

    Returns
    -------
    (tree_method, device) : tuple of str
    """
    device = "cuda" if device == "gpu" else device
    if tree_method == "gpu_hist":
        if device == "cpu":
            raise ValueError(
                "tree_method='gpu_hist' asks for the GPU but device='cpu'; use "
                "tree_method='hist' for the CPU, or device='cuda'"
            )
        tree_method, device = "hist", ("cuda" if device == "auto" else device)
    if device == "auto":
        return tree_method, ("cuda" if xgboost_cuda_available() else "cpu")
    if str(device).startswith("cuda") and not xgboost_cuda_available():
        warnings.warn(
            f"device={device!r} was asked for, but XGBoost sees no usable CUDA GPU; "
            "training on the CPU",
            UserWarning,
            stacklevel=3,
        )
        return tree_method, "cpu"
    if device != "cpu" and not str(device).startswith("cuda"):
        raise ValueError(f"device={device!r} must be 'auto', 'cpu', 'cuda' (or 'gpu', 'cuda:N')")
    return tree_method, device


@functools.lru_cache(maxsize=1)
def nvidia_gpus() -> tuple[str, ...]:
    """The NVIDIA GPUs ``nvidia-smi`` lists (name, memory, driver), without loading a
    framework; empty where there is no ``nvidia-smi``."""
    return tuple(_gpus_from_nvidia_smi())


def _gpus_from_nvidia_smi() -> list[str]:

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def system_info() -> dict:
    """What this machine offers mnistbench: cores, GPUs, Keras backend and device,
    installed Keras backends, XGBoost's CUDA support, Dask. Used by ``mnistbench info``."""


    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    info = {
        "mnistbench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": host_description(),
        "nvidia_smi_gpus": _gpus_from_nvidia_smi(),
        "keras": version("keras"),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow") + (
            "" if "KERAS_BACKEND" in os.environ else " (default; set KERAS_BACKEND to change)"),
        "keras_backends_installed": {
            name: version(dist) for name, dist in
            (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch"))
            if importlib.util.find_spec(name) is not None
        },
    }
    try:
        import_keras_quietly()
        info["keras_device"] = keras_device()
    except Exception as exc:  # noqa: BLE001 - report, do not crash the report
        info["keras_device"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        import xgboost as xgb  # noqa: PLC0415 - loaded lazily, only when used

        info["xgboost"] = xgb.__version__
        info["xgboost_built_with_cuda"] = bool(xgb.build_info().get("USE_CUDA", False))
        info["xgboost_gpu_usable"] = xgboost_cuda_available()
    except ImportError:
        info["xgboost"] = None
    info["dask_distributed"] = version("distributed")
    info["cpu_native_bf16"] = cpu_has_native_bf16()
    try:
        cnn_precision = resolve_precision("auto")
    except Exception:  # noqa: BLE001 - no usable Keras: reported above
        cnn_precision = "float32"
    info["device_auto"] = {
        "cnn": "gpu" if info["keras_device"].startswith("gpu") else "cpu",
        "cnn_precision": cnn_precision,
        "xgboost": "cuda" if info.get("xgboost_gpu_usable") else "cpu",
    }
    return info
