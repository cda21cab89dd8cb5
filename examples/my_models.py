"""Models of your own for ``python -m mnistbench run --models-from examples/my_models.py``.

The file defines ``MODELS``: a name for each model, and an unfitted estimator (cloned for
every unit) or a factory (called for every unit with the ``random_state``, ``device`` and
``n_jobs`` it accepts). Each model takes the raw images of any dataset, (n, h, w) uint8,
so each pipeline starts by flattening them to [0, 1] pixels.
"""

from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from mnistbench.estimators.features import ImageFlattener


def mlp(random_state=None):
    """A one-hidden-layer perceptron: the classic dense network before CNNs."""
    return make_pipeline(
        ImageFlattener(),
        MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=300,
                      random_state=random_state),
    )


MODELS = {
    "mlp": mlp,
    "knn": make_pipeline(ImageFlattener(), KNeighborsClassifier(n_neighbors=3)),
}
