"""Every registry entry behaves as a scikit-learn classifier on the registered datasets."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from mnistbench import devices, load_dataset
from mnistbench.models import MODELS, XGBoostClassifier, is_deep, make_model

#: The generic fit tests run on the classic entries: the CNN entries differ only in their
#: architecture, and KerasCNNClassifier has its own tests (cross_val_score, GridSearchCV,
#: pickling, partial_fit...) in test_cnn.py and the common checks in test_common.py.
CLASSIC = sorted(n for n in MODELS if not is_deep(n))


def fast_model(name, **kw):
    est = make_model(name, random_state=0, n_jobs=1, **kw)
    return est.set_params(**MODELS[name].fast_params)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_clone_keeps_params(name):
    est = make_model(name, random_state=0)
    assert is_classifier(est)
    twin = clone(est)
    assert type(twin) is type(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()


@pytest.mark.parametrize("name", CLASSIC)
def test_cross_val_score_on_digits(name, digits):
    scores = cross_val_score(fast_model(name), digits.X_train, digits.y_train, cv=3)
    assert len(scores) == 3
    assert scores.mean() > 0.6, f"{name} scores {scores}"


@pytest.mark.parametrize("name", CLASSIC)
def test_grid_search_over_one_parameter(name, digits):
    X, y = digits.X_train[:600], digits.y_train[:600]
    grid = GridSearchCV(fast_model(name), MODELS[name].grid, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 600 images, 2 epochs: convergence chatter
        grid.fit(X, y)
    (values,) = MODELS[name].grid.values()
    assert len(grid.cv_results_["params"]) == len(values) >= 2
    assert grid.best_score_ > 0.3


@pytest.mark.parametrize("name", CLASSIC)
def test_pickling_keeps_predictions(name, digits):
    est = fast_model(name).fit(digits.X_train, digits.y_train)
    twin = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(twin.predict(digits.X_test), est.predict(digits.X_test))


@pytest.mark.parametrize("name", ["logreg", "hog-svm", "xgboost"])
def test_accepts_flat_and_3d_images(name, digits):
    est = fast_model(name).fit(digits.X_train.reshape(len(digits.X_train), -1), digits.y_train)
    np.testing.assert_array_equal(
        est.predict(digits.X_test), est.predict(digits.X_test.reshape(len(digits.X_test), -1))
    )


def test_make_model_unknown_name():
    with pytest.raises(ValueError, match="choose one of"):
        make_model("resnet")


def test_cli_list_shows_models(capsys):
    from mnistbench.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert name in out


# ------------------------------------------------------------------ XGBoost device policy
def test_xgboost_string_labels_and_device_recorded(digits):
    names = np.array(list("abcdefghij"))
    clf = XGBoostClassifier(n_estimators=5, n_jobs=1).fit(
        digits.X_train.reshape(len(digits.X_train), -1), names[digits.y_train]
    )
    assert set(clf.predict(digits.X_test.reshape(len(digits.X_test), -1))) <= set(names)
    assert clf.device_ in ("cpu", "cuda")
    assert clf.device_ == ("cuda" if devices.xgboost_cuda_available() else "cpu")


def test_gpu_hist_is_mapped_to_hist_on_cuda(monkeypatch):
    monkeypatch.setattr(devices, "xgboost_cuda_available", lambda: True)
    assert devices.resolve_xgboost_device("auto", "gpu_hist") == ("hist", "cuda")
    assert devices.resolve_xgboost_device("gpu", "hist") == ("hist", "cuda")
    assert devices.resolve_xgboost_device("auto", "hist") == ("hist", "cuda")
    with pytest.raises(ValueError, match="gpu_hist"):
        devices.resolve_xgboost_device("cpu", "gpu_hist")


def test_without_gpu_cuda_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(devices, "xgboost_cuda_available", lambda: False)
    assert devices.resolve_xgboost_device("auto", "hist") == ("hist", "cpu")
    with pytest.warns(UserWarning, match="no usable CUDA GPU"):
        assert devices.resolve_xgboost_device("auto", "gpu_hist") == ("hist", "cpu")


def test_xgboost_threads_are_passed_through(digits):
    est = make_model("xgboost", n_jobs=1)
    assert est.named_steps["xgboost"].n_jobs == 1
    assert make_model("random-forest", n_jobs=1).named_steps["forest"].n_jobs == 1


@pytest.mark.slow
def test_hog_svm_on_full_mnist_training_subset():
    """hog-svm on 10,000 MNIST training images still clears 97 % on the full test set."""
    ds = load_dataset("mnist")
    est = make_model("hog-svm", random_state=0).fit(ds.X_train[:10000], ds.y_train[:10000])
    assert est.score(ds.X_test, ds.y_test) >= 0.97


def test_capped_pca_is_pca_until_the_data_is_too_small():
    from sklearn.base import clone
    from sklearn.decomposition import PCA

    from mnistbench.models import CappedPCA

    X = np.random.default_rng(0).normal(size=(300, 40))
    ours, ref = CappedPCA(n_components=10, random_state=0), PCA(n_components=10, random_state=0)
    assert np.array_equal(ours.fit_transform(X), ref.fit_transform(X))
    small = CappedPCA(n_components=200)
    with pytest.warns(UserWarning, match="using 40"):
        Z = small.fit(X).transform(X)
    assert Z.shape == (300, 40) and small.n_components == 200 and small.n_components_ == 40
    assert clone(small).get_params()["n_components"] == 200
    with pytest.warns(UserWarning, match="using 25"):
        assert small.fit_transform(X[:25]).shape == (25, 25)
