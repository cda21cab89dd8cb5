"""scikit-learn's own estimator checks, on every estimator and transformer of the package,
with one table of the checks we expect to fail and why (imbalanced-learn's
``test_common.py`` pattern). A new estimator class that is not listed here fails
``test_every_estimator_class_is_checked``."""

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import mnistbench
from mnistbench.estimators.classic import BatchedSVC, CappedPCA, XGBoostClassifier
from mnistbench.estimators.cnn import KerasCNNClassifier
from mnistbench.estimators.features import DeskewTransformer, HOGTransformer, ImageFlattener

_SGD_WEIGHTS = "SGD on mini-batches: weighting a sample by 2 is not the same as repeating it"

#: check name -> reason, per estimator class. Keep it short: each entry is a defect we accept.
EXPECTED_FAILURES = {
    "KerasCNNClassifier": {
        "check_estimator_tags_renamed": (
            "scikeras's BaseWrapper (our base class) defines _more_tags without "
            "__sklearn_tags__; we define only __sklearn_tags__, but the check walks the MRO"
        ),
        "check_mixin_order": (
            "scikeras's KerasClassifier lists ClassifierMixin after BaseEstimator; a subclass "
            "cannot reorder its parent's bases (C3 linearisation fails). We restore the "
            "classifier tags ourselves, so is_classifier() is True"
        ),
        "check_sample_weight_equivalence_on_dense_data": _SGD_WEIGHTS,
        "check_sample_weight_equivalence_on_sparse_data": _SGD_WEIGHTS,
    },
    "BatchedSVC": {  # inherited: SVC itself fails both the same way
        "check_sample_weight_equivalence_on_dense_data": (
            "libsvm stops at its solver tolerance, so a weight of 2 and a repeated row give "
            "slightly different decision values"
        ),
        "check_sample_weight_equivalence_on_sparse_data": "as on dense data (libsvm)",
    },
    "XGBoostClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "XGBoost sums gradients in float32: a weight of 2 and a repeated row agree to "
            "~2e-7 relative, above the check's 1e-7"
        ),
    },
}


def cnn_check_instance():
    """The CNN as the checks need it: their 2-10 plain features read as a 1-pixel-high
    strip, small and fast enough to learn their toy problems in 15 epochs."""
    return KerasCNNClassifier(
        architecture="baseline", epochs=15, batch_size=16, min_steps=0, filters=8, dense_units=32,
        learning_rate=0.01, dropout=0.0, image_shape=(1, -1), random_state=0, monitor=False,
    )


def _instances():
    # sklearn's checks feed 2-10 plain features: image transformers read them as strips
    return [
        cnn_check_instance(),
        XGBoostClassifier(n_estimators=10, n_jobs=1, random_state=0),
        BatchedSVC(),
        CappedPCA(n_components=2),
        HOGTransformer(pixels_per_cell=(1, 1), cells_per_block=(1, 1), image_shape=(1, -1)),
        ImageFlattener(),
        DeskewTransformer(image_shape=(1, -1)),
    ]


@parametrize_with_checks(_instances(),
                         expected_failed_checks=lambda est: EXPECTED_FAILURES.get(
                             type(est).__name__, {}))
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _package_estimator_classes():
    found = set()
    for info in pkgutil.walk_packages(mnistbench.__path__, "mnistbench."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, BaseEstimator) and cls.__module__ == info.name
                    and not cls.__name__.startswith("_")
                    and not inspect.isabstract(cls) and "Base" not in cls.__name__):
                found.add(cls.__name__)
    return found


def test_every_estimator_class_is_checked():
    checked = {type(est).__name__ for est in _instances()}
    assert _package_estimator_classes() == checked


# --------------------------------------------------------------------------- scikeras
def test_scikeras_is_the_tested_minor_version():
    """scikeras_compat overrides private scikeras hooks: a new minor version must be
    re-tested (and TESTED_SCIKERAS and the pin in pyproject.toml moved) before use."""
    from importlib.metadata import version

    from mnistbench.estimators.scikeras_compat import TESTED_SCIKERAS

    installed = ".".join(version("scikeras").split(".")[:2])
    assert installed == TESTED_SCIKERAS, (
        f"scikeras {version('scikeras')} is installed but mnistbench.estimators.scikeras_compat was "
        f"written for {TESTED_SCIKERAS}.x: check every hook in OVERRIDDEN_HOOKS")


@pytest.mark.parametrize("hook", ["_build_keras_model", "_fit_keras_model", "_predict_raw",
                                  "_get_param_names", "_initialize_callbacks"])
def test_every_scikeras_hook_we_override_still_exists(hook):
    from scikeras.wrappers import BaseWrapper, KerasClassifier

    from mnistbench.estimators.scikeras_compat import OVERRIDDEN_HOOKS, KerasClassifierBase

    assert hook in OVERRIDDEN_HOOKS
    theirs = getattr(KerasClassifier, hook, None) or getattr(BaseWrapper, hook, None)
    assert callable(theirs), f"scikeras no longer has {hook}"
    ours = getattr(KerasClassifierBase, hook)
    if ours is not theirs:  # an override: it must accept what scikeras passes it
        assert (list(inspect.signature(ours).parameters)[:len(inspect.signature(theirs).parameters)]
                == list(inspect.signature(theirs).parameters)), hook


def test_scikeras_still_calls_the_build_hook():
    """scikeras finds the network through ``_keras_build_fn`` when ``model`` is None."""
    import scikeras.wrappers

    wrapper = scikeras.wrappers.BaseWrapper
    assert "_check_model_param" in inspect.getsource(wrapper._build_keras_model)
    assert "self._keras_build_fn" in inspect.getsource(wrapper._check_model_param)
