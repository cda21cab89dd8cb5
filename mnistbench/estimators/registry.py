"""The model zoo: one registry, name -> factory of a fresh, unfitted sklearn estimator.

Every entry takes the raw images of any registered dataset (uint8, flat or
``(n, h, w)``) and owns its scaling, reshaping and features, so the harness never
needs to know what is inside. Adding a model is one entry in ``MODELS``.

Factories take ``random_state``, ``device`` ("auto", "cpu", "gpu") and ``n_jobs``
(threads the model may use; the harness lowers it when folds run in parallel).
Defaults were chosen from the literature and measured on MNIST; the figures are in
``results/models.md`` (``benchmarks/models.py``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from mnistbench.estimators.devices import resolve_xgboost_device
from mnistbench.estimators.features import DeskewTransformer, HOGTransformer, ImageFlattener

__all__ = ["BatchedSVC", "CappedPCA", "FAMILIES", "MODELS", "ModelEntry", "XGBoostClassifier", "is_deep",
           "is_deep_name", "make_model", "TUNED_SUFFIX", "tuned_label"]

#: Model families. "deep" is a contract: the estimator (or its pipeline's final step) is
#: a Keras classifier with ``epochs``, ``verbose``, ``history_``, ``fit(validation_data=)``,
#: saved as ``.keras``; presets give it their epoch budget. Everything else is "classic".
FAMILIES = ("classic", "deep")

HOG_PCA_COMPONENTS = 200


class CappedPCA(PCA):
    """scikit-learn's PCA, with an integer ``n_components`` capped at
    ``min(n_samples, n_features)`` of the data it is fitted on (with a warning).

    The zoo's pipelines are tuned for MNIST (50 or 200 components); a user's own
    folder of a few hundred images, or a small CV fold, would otherwise make PCA
    raise. When no cap applies it is exactly PCA.
    """

    def _capped(self, X):
        n = self.n_components
        shape = getattr(X, "shape", None)  # sparse matrices, DataFrames, arrays
        cap = min((shape if shape is not None else np.asarray(X).shape)[:2])
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > cap:
            warnings.warn(f"PCA: n_components={n} is more than the data allows "
                          f"(min(n_samples, n_features) = {cap}); using {cap}", stacklevel=3)
            return cap
        return n

    def fit(self, X, y=None):
        return self._fit_capped(super().fit, X, y)

    def fit_transform(self, X, y=None):
        return self._fit_capped(super().fit_transform, X, y)

    def _fit_capped(self, method, X, y):
        requested = self.n_components
        self.n_components = self._capped(X)
        try:
            return method(X, y)
        finally:
            self.n_components = requested  # a fitted estimator keeps its parameters


# --------------------------------------------------------------------------- SVM
class BatchedSVC(SVC):
    """scikit-learn's SVC, with ``predict`` of a multiclass RBF machine computed in
    matrix products.

    libsvm predicts one image at a time, evaluating the kernel against every support
    vector in a scalar loop; on MNIST (thousands of support vectors, 10,000 test images
    and 15 corrupted copies of 3,000) prediction costs as much as training. Here the
    kernel rows of a block of images come from one BLAS product (``|x|^2 + |s|^2 -
    2 x.s``), the one-vs-one decision values from a second (each pair's dual
    coefficients laid out as libsvm pairs them), and the votes are libsvm's: a positive
    value votes for the pair's first class, ties go to the lowest class index. Training,
    every parameter, ``decision_function`` and the fitted attributes are SVC's own.
    Anything else (another kernel, two classes, ``probability``, ``break_ties``, sparse
    input) takes SVC's path. A test checks the predictions against libsvm's.
    """

    #: Kernel values computed at once (images per block x support vectors, float64): a
    #: block that stays in cache keeps the element-wise steps fast.
    _BLOCK_VALUES = 1_000_000

    def predict(self, X):
        if not self._batched_predict_applies(X):
            return super().predict(X)
        X = self._validate_for_predict(X)
        return self.classes_[self._ovo_votes(X)]

    def _batched_predict_applies(self, X) -> bool:
        check_is_fitted(self)
        return (self.kernel == "rbf" and len(self.classes_) > 2 and self.probability is not True
                and not self.break_ties and not hasattr(X, "tocsr") and not self._sparse)

    def _ovo_votes(self, X):
        k = len(self.classes_)
        sv = self.support_vectors_
        starts = np.concatenate([[0], np.cumsum(self.n_support_)])
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        weights = np.zeros((len(sv), len(pairs)))
        for p, (i, j) in enumerate(pairs):  # libsvm's layout of the one-vs-one coefficients
            weights[starts[i]:starts[i + 1], p] = self.dual_coef_[j - 1, starts[i]:starts[i + 1]]
            weights[starts[j]:starts[j + 1], p] = self.dual_coef_[i, starts[j]:starts[j + 1]]
        first = np.array([i for i, _ in pairs])
        second = np.array([j for _, j in pairs])
        sv_norms = np.einsum("ij,ij->i", sv, sv)
        block = max(1, self._BLOCK_VALUES // max(1, len(sv)))
        out = np.empty(len(X), dtype=np.intp)
        for start in range(0, len(X), block):
            x = X[start:start + block]
            kernel = x @ sv.T  # becomes -gamma |x - s|^2, then the kernel, in place
            kernel *= -2.0
            kernel += np.einsum("ij,ij->i", x, x)[:, None]
            kernel += sv_norms
            np.maximum(kernel, 0.0, out=kernel)
            kernel *= -self._gamma
            np.exp(kernel, out=kernel)
            decision = kernel @ weights + self.intercept_
            votes = np.zeros((len(x), k), dtype=np.intp)
            positive = decision > 0
            rows = np.arange(len(x))[:, None]
            np.add.at(votes, (np.broadcast_to(rows, positive.shape),
                              np.where(positive, first, second)), 1)
            out[start:start + len(x)] = np.argmax(votes, axis=1)  # the first of equal counts
        return out


# --------------------------------------------------------------------------- XGBoost
class XGBoostClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost's gradient-boosted trees as a plain sklearn classifier.

    Adds to ``xgboost.XGBClassifier``: labels of any kind (XGBoost wants 0..k-1),
    ``device="auto"`` (CUDA when XGBoost sees a GPU, else CPU; the choice is in
    ``device_``), and the old ``tree_method="gpu_hist"`` spelling, mapped to
    ``tree_method="hist", device="cuda"`` (XGBoost >= 2 rejects it).

    Parameters
    ----------
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, max_bin :
        As in XGBoost.
    tree_method : {"hist", "approx", "exact", "gpu_hist"}, default="hist"
    device : {"auto", "cpu", "cuda", "gpu"}, default="auto"
    n_jobs : int or None, default=None
        Threads; None uses every core.
    random_state : int or None, default=None

    Attributes
    ----------
    classes_ : ndarray
    device_ : str
        "cuda" or "cpu": where it trained.
    booster_ : xgboost.XGBClassifier
    """

    _parameter_constraints = {
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_depth": [Interval(numbers.Integral, 0, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "subsample": [Interval(numbers.Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(numbers.Real, 0, 1, closed="right")],
        "max_bin": [Interval(numbers.Integral, 2, None, closed="left")],
        "tree_method": [StrOptions({"hist", "approx", "exact", "gpu_hist"})],
        "device": [StrOptions({"auto", "cpu", "cuda", "gpu"})],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_estimators=200,
        max_depth=6,
        learning_rate=0.3,
        subsample=1.0,
        colsample_bytree=1.0,
        max_bin=256,
        tree_method="hist",
        device="auto",
        n_jobs=None,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.max_bin = max_bin
        self.tree_method = tree_method
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        import xgboost as xgb  # noqa: PLC0415 - keep `import mnistbench` light

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            if not sample_weight.any():
                raise ValueError("sample_weight: every weight is zero; at least one sample "
                                 "needs a weight above zero")
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"y has {len(self.classes_)} class; a classifier needs at least 2")
        tree_method, self.device_ = resolve_xgboost_device(self.device, self.tree_method)
        seed = self.random_state
        if seed is not None and not isinstance(seed, (int, np.integer)):  # a RandomState
            seed = int(check_random_state(seed).randint(2**31 - 1))
        self.booster_ = xgb.XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            max_bin=self.max_bin,
            tree_method=tree_method,
            device=self.device_,
            n_jobs=self.n_jobs,
            random_state=seed,
            verbosity=0,
        )
        self.booster_.fit(X, self._encoder.transform(y), sample_weight=sample_weight)
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False, ensure_all_finite="allow-nan")
        return self.booster_.predict_proba(X)

    def predict(self, X):
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


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
    did (``benchmarks/xgboost_bins.py`` measures both). ``device="auto"`` trains on CUDA
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
    figures of the defaults are in ``results/models.md``.
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
