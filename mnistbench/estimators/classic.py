"""The estimator classes of the built-in classic models: what the registry's
factories (:mod:`mnistbench.estimators.models`) put into their pipelines, beside
scikit-learn's and mnistbench's image transformers (:mod:`mnistbench.estimators.features`).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
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

__all__ = ["BatchedSVC", "CappedPCA", "XGBoostClassifier"]


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
