"""mnistbench: classic vs deep models on MNIST-like images, as scikit-learn estimators.

Heavy libraries (TensorFlow/Keras, XGBoost) are imported lazily: importing
``mnistbench`` or running ``python -m mnistbench --help`` does not load them.
"""

from mnistbench._version import __version__
from mnistbench.datasets import DATASETS, Dataset, load_dataset

__all__ = [
    "DATASETS",
    "Dataset",
    "__version__",
    "load_dataset",
]

