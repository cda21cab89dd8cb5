"""mnistbench: classic vs deep models on MNIST-like images, as scikit-learn estimators.

Heavy libraries (TensorFlow/Keras, XGBoost) are imported lazily: importing
``mnistbench`` or running ``python -m mnistbench --help`` does not load them.
"""

import importlib

from mnistbench._version import __version__
from mnistbench.data.datasets import DATASETS, Dataset, load_dataset, load_image_folder

__all__ = [
    "CustomModel",
    "DATASETS",
    "Dataset",
    "HOGTransformer",
    "KerasCNNClassifier",
    "MODELS",
    "TrainingWarning",
    "__version__",
    "load_dataset",
    "learning_curve",
    "load_image_folder",
    "load_model",
    "load_models_file",
    "make_model",
    "prepare_image",
    "run_benchmark",
    "save_model",
]

_LAZY = {
    "CustomModel": "mnistbench.estimators.user_models",
    "load_models_file": "mnistbench.estimators.user_models",
    "KerasCNNClassifier": "mnistbench.estimators.cnn",
    "HOGTransformer": "mnistbench.estimators.features",
    "MODELS": "mnistbench.estimators.models",
    "make_model": "mnistbench.estimators.models",
    "run_benchmark": "mnistbench.harness",
    "learning_curve": "mnistbench.harness",
    "TrainingWarning": "mnistbench.estimators.architectures",
    "prepare_image": "mnistbench.data.imaging",
    "load_model": "mnistbench.estimators.persist",
    "save_model": "mnistbench.estimators.persist",
}


def __getattr__(name):
    # Keeps `import mnistbench` free of TensorFlow's start-up cost.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mnistbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

