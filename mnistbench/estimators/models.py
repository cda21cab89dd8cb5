"""The model zoo: one registry, name -> factory of a fresh, unfitted sklearn estimator.

Every entry takes the raw images of any registered dataset (uint8, flat or
``(n, h, w)``) and owns its scaling, reshaping and features, so the harness never
needs to know what is inside. Adding a model is one entry in ``MODELS``.

Factories take ``random_state``, ``device`` ("auto", "cpu", "gpu") and ``n_jobs``
(threads the model may use; the harness lowers it when folds run in parallel).
Defaults were chosen from the literature and measured on MNIST; the figures are in
``results/bench/models.md`` (``python benchmarks/run.py models``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mnistbench.estimators.classic import BatchedSVC, CappedPCA, XGBoostClassifier
from mnistbench.estimators.features import DeskewTransformer, HOGTransformer, ImageFlattener

__all__ = ["FAMILIES", "MODELS", "ModelEntry", "TUNED_SUFFIX", "is_deep", "is_deep_name", "make_model",
           "tuned_label"]

#: Model families. "deep" is a contract: the estimator (or its pipeline's final step) is
#: a Keras classifier with ``epochs``, ``verbose``, ``history_``, ``fit(validation_data=)``,
#: saved as ``.keras``; presets give it their epoch budget. Everything else is "classic".
FAMILIES = ("classic", "deep")

HOG_PCA_COMPONENTS = 200


# --------------------------------------------------------------------------- factories
def logreg(random_state=None, device="auto", n_jobs=None):
    """Multinomial logistic regression on pixels scaled to [0, 1].

    L2 penalty C=0.1 with lbfgs (max 300 iterations): the linear baseline that
    reaches ~92 % on MNIST in the literature (LeCun et al. list 88-92 % for linear
    classifiers).
    """
    return Pipeline([
        ("pixels", ImageFlattener()),
        ("logreg", LogisticRegression(C=0.1, max_iter=300, random_state=random_state)),
    ])


def random_forest(random_state=None, device="auto", n_jobs=None):
    """Random forest of 200 fully grown trees on raw pixels (~97 % on MNIST).

    Trees need no scaling; sqrt(784) = 28 features are tried at each split.
    """
    return Pipeline([
        ("pixels", ImageFlattener(rescale=False)),
        ("forest", RandomForestClassifier(
            n_estimators=200, max_features="sqrt", n_jobs=n_jobs, random_state=random_state)),
    ])


def svc(random_state=None, device="auto", n_jobs=None):
    """RBF support vector machine on the first 50 principal components (~98.5 % on MNIST).

    PCA to 50 components keeps ~83 % of MNIST's pixel variance and makes the
    kernel ~15x cheaper than on 784 pixels; C=10 with gamma="scale".
    """
    return Pipeline([
        ("pixels", ImageFlattener()),
        ("pca", CappedPCA(n_components=50, random_state=random_state)),
        ("svc", BatchedSVC(C=10, gamma="scale", random_state=random_state)),
    ])


def xgboost(random_state=None, device="auto", n_jobs=None):
    """Gradient-boosted trees (XGBoost hist, 200 rounds, depth 6, eta 0.3, 64 bins) on raw
    pixels.

    ``max_bin=64`` (XGBoost's default is 256) groups a pixel's 256 grey levels four to a
    bin: split finding, which grows with the bins, is most of a round's work on 784
    features, so a round costs far less, while ink against paper still splits where it
    did (measured in docs/decisions/xgboost_bins.md). ``device="auto"`` trains on CUDA
    when XGBoost sees a GPU (the modern spelling of ``gpu_hist``).
    """
    return Pipeline([
        ("pixels", ImageFlattener(rescale=False)),
        ("xgboost", XGBoostClassifier(
            n_estimators=200, max_depth=6, learning_rate=0.3, max_bin=64, device=device,
            n_jobs=n_jobs, random_state=random_state)),
    ])


def hog_svm(random_state=None, device="auto", n_jobs=None):
    """Deskewed images -> HOG -> PCA -> RBF SVM (~99 % on MNIST).

    Deskewing (shearing each digit upright by its second moments, as in LeCun et
    al.'s comparisons) then HOG with 9 orientations, 4x4-pixel cells on MNIST (2x2 on
    8x8 digits) and 2x2-cell blocks (1,296 features on MNIST); PCA keeps
    HOG_PCA_COMPONENTS components, which keeps the RBF kernel (C=10) cheap. The
    figures of the defaults are in ``results/bench/models.md``.
    """
    return Pipeline([
        ("deskew", DeskewTransformer()),
        ("hog", HOGTransformer(orientations=9, pixels_per_cell="auto", cells_per_block=(2, 2))),
        ("pca", CappedPCA(n_components=HOG_PCA_COMPONENTS, random_state=random_state)),
        ("svc", BatchedSVC(C=10, gamma="scale", random_state=random_state)),
    ])


def _cnn(architecture):
    def factory(random_state=None, device="auto", n_jobs=None):
        from mnistbench.estimators.cnn import KerasCNNClassifier  # noqa: PLC0415 - Keras is heavy

        return KerasCNNClassifier(architecture=architecture, random_state=random_state)

    factory.__name__ = f"cnn_{architecture}"
    factory.__doc__ = (
        f"KerasCNNClassifier(architecture={architecture!r}) with its defaults (Adam 1e-3, "
        "cosine decay, 5 epochs raised to >= 2,500 steps, batch auto up to 32, dropout 0.25); "
        "Keras picks the GPU when its backend sees one."
    )
    return factory


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelEntry:
    """A registry entry.

    Attributes
    ----------
    factory : callable(random_state=None, device="auto", n_jobs=None) -> estimator
    summary : str
        One line for ``mnistbench list``.
    family : {"classic", "deep"}
    grid : dict
        A small parameter grid around the defaults: what ``run-all --tune`` searches
        (successive halving, nested CV) and the common tests' ``GridSearchCV`` uses.
    fast_params : dict
        ``set_params`` overrides that make a smoke test fast (fewer epochs/trees).
    """

    factory: Callable[..., BaseEstimator]
    summary: str
    family: str = "classic"
    grid: dict = field(default_factory=dict)
    fast_params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r}: choose from {FAMILIES}")


MODELS: dict[str, ModelEntry] = {
    "logreg": ModelEntry(
        logreg, "logistic regression on [0, 1] pixels (C=0.1)",
        grid={"logreg__C": [0.01, 0.1, 1.0]},
    ),
    "random-forest": ModelEntry(
        random_forest, "random forest, 200 trees, raw pixels",
        grid={"forest__max_features": ["sqrt", 0.1]},
        fast_params={"forest__n_estimators": 30},
    ),
    "svc": ModelEntry(
        svc, "RBF SVM (C=10) on 50 PCA components",
        grid={"svc__C": [1, 10, 100]},
        fast_params={"pca__n_components": 30},
    ),
    "xgboost": ModelEntry(
        xgboost, "XGBoost hist, 200 rounds, depth 6, 64 bins (CUDA when available)",
        grid={"xgboost__max_depth": [3, 6]},
        fast_params={"xgboost__n_estimators": 15},
    ),
    "hog-svm": ModelEntry(
        hog_svm, "deskew + HOG (9 bins, 2x2 blocks) + PCA + RBF SVM (C=10)",
        grid={"svc__C": [1, 10, 100]},
        fast_params={"pca__n_components": 30},
    ),
    "cnn-baseline": ModelEntry(
        _cnn("baseline"), "CNN: Conv32 + pool + Dense100 (tutorial baseline)", family="deep",
        grid={"learning_rate": [1e-3, 3e-3]},
        fast_params={"epochs": 2, "batch_size": 32, "min_steps": 0, "learning_rate": 0.01,
                     "dropout": 0.0},
    ),
    "cnn-batchnorm": ModelEntry(
        _cnn("batchnorm"), "CNN: baseline with batch normalisation", family="deep",
        grid={"learning_rate": [1e-3, 3e-3]},
        fast_params={"epochs": 2, "batch_size": 32, "min_steps": 0, "learning_rate": 0.01,
                     "dropout": 0.0},
    ),
    "cnn-deep": ModelEntry(
        _cnn("deep"), "CNN: VGG-like Conv32 + 2xConv64 blocks (tutorial deep)", family="deep",
        grid={"learning_rate": [1e-3, 3e-3]},
        fast_params={"epochs": 2, "batch_size": 32, "min_steps": 0, "learning_rate": 0.01,
                     "dropout": 0.0},
    ),
}


def is_deep(model) -> bool:
    """Whether ``model`` is of the "deep" family: a registry name (its entry's family), or
    an estimator or pipeline (its final step's ``_mnistbench_family``, which
    :class:`~mnistbench.estimators.cnn.KerasCNNClassifier` sets; a test checks that both agree for
    every registry entry). Never imports Keras."""
    if isinstance(model, str):
        return MODELS[model].family == "deep"
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return getattr(final, "_mnistbench_family", "classic") == "deep"


def is_deep_name(name) -> bool:
    """Whether ``name`` is a registered model of the "deep" family (False for a name the
    registry does not know, which its own check reports in its own words)."""
    return name in MODELS and is_deep(name)


def make_model(name, random_state=None, device="auto", n_jobs=None):
    """A fresh, unfitted estimator for a registered model name."""
    try:
        entry = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return entry.factory(random_state=random_state, device=device, n_jobs=n_jobs)


#: The label of a model's tuned twin: ``svc`` -> ``svc-tuned``.
TUNED_SUFFIX = "-tuned"


def tuned_label(model: str) -> str:
    return model + TUNED_SUFFIX
