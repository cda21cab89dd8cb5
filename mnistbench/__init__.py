"""mnistbench: classic vs deep models on MNIST-like images, as scikit-learn estimators.

Heavy libraries (TensorFlow/Keras, XGBoost) are imported lazily: importing
``mnistbench`` or running ``python -m mnistbench --help`` does not load them.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from mnistbench._version import __version__
from mnistbench.data.registry import DATASETS, Dataset, load_dataset, load_image_folder

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
    "MODELS": "mnistbench.models",
    "make_model": "mnistbench.models",
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


#: Where each module of the flat layout lives now. Old import paths (``mnistbench.cnn``,
#: ``mnistbench.models``, ...) and model files that name them keep working: importing one
#: gives the module itself, under both names.
MOVED = {
    "datasets": "data.registry", "dataset_types": "data.types", "mnist_files": "data.mnist_files",
    "fashion_files": "data.fashion_files", "folders": "data.folders", "sources": "data.sources",
    "user_arrays": "data.user_arrays", "imaging": "data.imaging", "corruptions": "data.corruptions",
    "cnn": "estimators.cnn", "architectures": "estimators.architectures",
    "scikeras_compat": "estimators.scikeras_compat", "devices": "estimators.devices",
    "features": "estimators.features", "models": "estimators.registry",
    "user_models": "estimators.user_models", "persist": "estimators.persist",
    "stats": "evaluation.stats", "tuning": "evaluation.tuning", "robustness": "evaluation.robustness",
    "verdict": "reporting.verdict", "tables": "reporting.tables", "report": "reporting.report",
    "report_html": "reporting.html", "curves": "reporting.curves", "finalize": "harness.finalize",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path to the module at its new one (the same object)."""

    def find_spec(self, fullname, path=None, target=None):
        old = fullname.removeprefix(__name__ + ".")
        if old != fullname and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}")

    def exec_module(self, module):
        """Nothing to run: the module ran when it was imported at its new path."""


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())
