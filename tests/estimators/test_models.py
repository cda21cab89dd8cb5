"""Every registry entry behaves as a scikit-learn classifier on the registered datasets."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from mnistbench import load_dataset
from mnistbench.estimators import devices
from mnistbench.estimators.classic import XGBoostClassifier
from mnistbench.estimators.models import MODELS, is_deep, make_model

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

    from mnistbench.estimators.classic import CappedPCA

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


# --------------------------------------------------------------------------- BatchedSVC
def _libsvm_predict(model, X):
    """What scikit-learn's SVC (libsvm, one image at a time) predicts for ``model``."""
    from sklearn.svm import SVC

    return SVC.predict(model, X)


def test_batched_svc_predicts_what_libsvm_predicts(mnist, digits):
    """The zoo's SVMs predict in matrix products; the answers must be libsvm's, image for
    image: MNIST through the svc pipeline's PCA and hog-svm's features, digits pixels,
    string labels, and a batch size that splits the images into uneven blocks."""
    from mnistbench.estimators.classic import BatchedSVC

    rng = np.random.RandomState(0)
    train = rng.choice(len(mnist.y_train), 3000, replace=False)
    for name in ("svc", "hog-svm"):
        pipe = make_model(name, random_state=0).fit(mnist.X_train[train], mnist.y_train[train])
        features = pipe[:-1].transform(mnist.X_test[:2000])
        ours = pipe[-1].predict(features)
        np.testing.assert_array_equal(ours, _libsvm_predict(pipe[-1], features))
        assert np.mean(ours == mnist.y_test[:2000]) > 0.9
    X = digits.X_train.reshape(len(digits.X_train), -1).astype(float)
    Xt = digits.X_test.reshape(len(digits.X_test), -1).astype(float)
    labels = np.array(list("abcdefghij"))[digits.y_train]
    model = BatchedSVC(C=3, gamma=0.01).fit(X, labels)
    model._BLOCK_VALUES = 7 * len(model.support_vectors_)  # blocks of 7 images
    np.testing.assert_array_equal(model.predict(Xt), _libsvm_predict(model, Xt))
    assert model.predict(Xt).dtype.kind == "U"


@pytest.mark.parametrize("case", ["two-classes", "probability", "linear", "sparse"])
def test_batched_svc_leaves_what_it_does_not_batch_to_libsvm(digits, case, monkeypatch):
    import scipy.sparse
    from sklearn.svm import SVC

    from mnistbench.estimators.classic import BatchedSVC

    X = digits.X_train.reshape(len(digits.X_train), -1).astype(float)
    y = digits.y_train % 2 if case == "two-classes" else digits.y_train
    params = {"probability": {"probability": True}, "linear": {"kernel": "linear"}}.get(case, {})
    if case == "sparse":
        X = scipy.sparse.csr_matrix(X)
    model = BatchedSVC(random_state=0, **params).fit(X, y)
    monkeypatch.setattr(BatchedSVC, "_ovo_votes", lambda self, X: pytest.fail("batched"))
    np.testing.assert_array_equal(model.predict(X[:50]), SVC.predict(model, X[:50]))
