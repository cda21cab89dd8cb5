"""Which device Keras trains on, asked of whichever backend Keras runs on.

Only the backend Keras already uses is imported, inside the functions, so this
module costs nothing until asked.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["import_keras_quietly", "keras_device"]


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
    we set ``TF_CPP_MIN_LOG_LEVEL=2`` and hold native stderr for the import only.
    Python exceptions still propagate; a user who sets ``TF_CPP_MIN_LOG_LEVEL``
    gets TensorFlow's own behaviour.
    """
    if "keras" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import keras  # noqa: PLC0415
        import scikeras.wrappers  # noqa: F401, PLC0415

        return keras
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _native_stderr_to_devnull():
        import keras  # noqa: PLC0415
        import scikeras.wrappers  # noqa: F401, PLC0415

        if keras.config.backend() == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415

            tf.config.list_physical_devices("GPU")  # the cuInit probe logs here
    return keras


def keras_device() -> str:
    """Describe where Keras computes, e.g. ``"cpu (tensorflow)"`` or ``"gpu:NVIDIA H100 (jax)"``."""
    import keras  # noqa: PLC0415

    backend = keras.config.backend()
    gpu_names: list[str] = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # noqa: PLC0415

            gpus = tf.config.list_physical_devices("GPU")
            for gpu in gpus:
                details = tf.config.experimental.get_device_details(gpu)
                gpu_names.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax  # noqa: PLC0415

            gpu_names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch  # noqa: PLC0415

            if torch.cuda.is_available():
                gpu_names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - a failed probe means "no usable GPU"
        gpu_names = []
    if gpu_names:
        return f"gpu:{gpu_names[0]} ({backend})"
    return f"cpu ({backend})"
