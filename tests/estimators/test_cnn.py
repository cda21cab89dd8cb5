"""KerasCNNClassifier: scikit-learn contract, input forms, misuse, save/load.

Everything here trains on scikit-learn's digits (or smaller) for 1-3 epochs.
"""

import inspect
import json
import os
import pickle
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from mnistbench import load_dataset
from mnistbench.estimators import architectures, cnn, scikeras_compat
from mnistbench.estimators.cnn import KerasCNNClassifier, TrainingWarning

ROOT = Path(__file__).resolve().parents[2]
FAST = dict(architecture="baseline", epochs=2, batch_size=32, min_steps=0, filters=8,
            dense_units=32, learning_rate=0.01, dropout=0.0, random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    return KerasCNNClassifier(**FAST).fit(digits.X_train, digits.y_train)


_ORDER_CHECK = """
import warnings
warnings.simplefilter("ignore")
from sklearn.utils.estimator_checks import check_methods_sample_order_invariance
from tests.estimators.test_common import cnn_check_instance as _check_instance
for seed in range(3):
    check_methods_sample_order_invariance(
        "cnn", _check_instance().set_params(precision="float32", random_state=seed))
print("order-invariant")
"""


def test_predictions_do_not_depend_on_sample_order_on_avx2_kernels():
    """The Zen 3 failure, reproduced on any x86 CPU: oneDNN limited to AVX2 (as on a CPU
    without AVX-512) rounds a sample's float32 output differently depending on where it
    sits in a batch (this failed 4 seeds out of 4 before predictions were made in a
    canonical order). A fresh process, because oneDNN reads the limit at start-up."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", _ORDER_CHECK], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "order-invariant" in run.stdout, run.stderr[-3000:]


def test_canonical_order_is_the_same_for_any_permutation():
    rng = np.random.default_rng(0)
    images = rng.random((50, 4, 4, 1)).astype(np.float32)
    images[10] = images[3]  # identical images are interchangeable
    order = cnn.canonical_order(images)
    for _ in range(5):
        perm = rng.permutation(50)
        np.testing.assert_array_equal(images[perm][cnn.canonical_order(images[perm])],
                                      images[order])


# ------------------------------------------------------------ sklearn integration
def test_is_a_classifier_with_stratified_cv(digits):
    clf = KerasCNNClassifier()
    assert is_classifier(clf)
    assert isinstance(check_cv(3, digits.y_train, classifier=is_classifier(clf)), StratifiedKFold)
    assert clf.__sklearn_tags__().non_deterministic
    assert not KerasCNNClassifier(random_state=0).__sklearn_tags__().non_deterministic


def test_cross_val_score_uses_stratified_folds(digits, monkeypatch):
    seen = []
    original = StratifiedKFold.split

    def spy(self, X, y=None, groups=None):
        seen.append(type(self).__name__)
        return original(self, X, y, groups)

    monkeypatch.setattr(StratifiedKFold, "split", spy)
    scores = cross_val_score(KerasCNNClassifier(**FAST), digits.X_train, digits.y_train, cv=3)
    assert seen == ["StratifiedKFold"]
    assert len(scores) == 3 and scores.mean() > 0.5


def test_clone_and_set_params_keep_every_parameter():
    clf = KerasCNNClassifier(
        architecture="batchnorm", epochs=7, batch_size=64, learning_rate=0.02, momentum=0.8,
        optimizer="sgd", filters=16, dense_units=50, dropout=0.1, augment=True,
        image_shape=(8, 8), random_state=3, fit__shuffle=False,
    )
    params = clf.get_params()
    twin = clone(clf)
    assert twin.get_params() == params
    assert twin.epochs == 7 and twin.fit__shuffle is False
    twin.set_params(epochs=3, learning_rate=0.5)
    assert clone(twin).get_params()["epochs"] == 3
    assert clone(twin).learning_rate == 0.5
    for name in ("architecture", "epochs", "batch_size", "optimizer", "learning_rate", "momentum",
                 "filters", "dense_units", "dropout", "random_state", "verbose", "augment"):
        assert name in params


def test_unknown_constructor_argument_is_an_error_at_fit(digits):
    clf = KerasCNNClassifier(epoch=3)  # typo: sklearn convention, validate in fit
    with pytest.raises(TypeError, match=r"unexpected parameter\(s\) \['epoch'\]"):
        clf.fit(digits.X_train, digits.y_train)


@pytest.mark.slow  # multi-epoch CNN fits: the full suite runs it, the fast lane not
def test_grid_search_over_architecture_and_learning_rate(digits):
    X, y = digits.X_train[:400], digits.y_train[:400]
    grid = GridSearchCV(
        KerasCNNClassifier(**FAST),
        {"architecture": ["baseline", "deep"], "learning_rate": [3e-3, 1e-2]},
        cv=2,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_.architecture in ("baseline", "deep")
    assert grid.best_estimator_.epochs == FAST["epochs"]  # params survive the search


def test_in_a_pipeline(digits):
    flatten = FunctionTransformer(lambda X: np.asarray(X).reshape(len(X), -1))
    pipe = make_pipeline(flatten, KerasCNNClassifier(**FAST))
    pipe.fit(digits.X_train, digits.y_train)
    assert pipe.score(digits.X_test, digits.y_test) > 0.5


# ------------------------------------------------------------ inputs and outputs
def test_every_input_form_gives_the_same_predictions(fitted, digits):
    X = digits.X_test
    ref = fitted.predict_proba(X)
    np.testing.assert_allclose(fitted.predict_proba(X.reshape(len(X), -1)), ref, rtol=1e-6)
    np.testing.assert_allclose(fitted.predict_proba(X[..., None]), ref, rtol=1e-6)
    assert fitted.n_features_in_ == 64 and fitted.image_shape_ == (8, 8)
    assert fitted.x_scale_ == 16.0  # digits pixels are 0-16: learned, not assumed 255


@pytest.mark.parametrize("form", ["flat", "3d", "4d", "float01", "float64-255"])
def test_fit_accepts_each_input_form(digits, form):
    X = digits.X_train.astype(np.uint8)
    X = {
        "flat": X.reshape(len(X), -1),
        "3d": X,
        "4d": X[..., None],
        "float01": X / 16.0,
        "float64-255": X.astype(np.float64) * 255 / 16,
    }[form]
    clf = KerasCNNClassifier(**FAST).fit(X, digits.y_train)
    Xt = digits.X_test
    Xt = {"flat": Xt.reshape(len(Xt), -1), "3d": Xt, "4d": Xt[..., None],
          "float01": Xt / 16.0, "float64-255": Xt.astype(np.float64) * 255 / 16}[form]
    assert clf.score(Xt, digits.y_test) > 0.5


def test_string_labels(digits):
    names = np.array("zero one two three four five six seven eight nine".split())
    clf = KerasCNNClassifier(**FAST).fit(digits.X_train, names[digits.y_train])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(digits.X_test)
    assert pred.dtype.kind == "U"
    assert np.mean(pred == names[digits.y_test]) > 0.5


def test_predict_proba_sums_to_one_and_matches_predict(fitted, digits):
    proba = fitted.predict_proba(digits.X_test)
    assert proba.shape == (len(digits.X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(1)], fitted.predict(digits.X_test))
    one = fitted.predict_proba(digits.X_test[:1])
    assert one.shape == (1, 10)


def test_random_state_repeats_on_cpu(digits):
    a = KerasCNNClassifier(**FAST).fit(digits.X_train, digits.y_train)
    b = KerasCNNClassifier(**FAST).fit(digits.X_train, digits.y_train)
    np.testing.assert_array_equal(a.predict_proba(digits.X_test), b.predict_proba(digits.X_test))
    assert a.history_["loss"] == b.history_["loss"]


def test_many_steps_per_execution_train_the_same_weights(digits):
    # 32 steps per Keras call is a speed setting only: same weights, same history as one
    # step per call, including a last call that runs out of data mid-way (43 steps per epoch)
    kw = dict(FAST, epochs=2)
    one = KerasCNNClassifier(**kw, steps_per_execution=1).fit(digits.X_train, digits.y_train)
    many = KerasCNNClassifier(**kw, steps_per_execution=32).fit(digits.X_train, digits.y_train)
    assert many.model_.steps_per_execution == 32 and one.model_.steps_per_execution == 1
    np.testing.assert_allclose(many.history_["loss"], one.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(many.predict_proba(digits.X_test),
                               one.predict_proba(digits.X_test), atol=1e-5)


def test_steps_per_execution_auto_keeps_user_batch_hooks():
    import keras

    from mnistbench.estimators.devices import resolve_steps_per_execution

    expected = 1 if keras.config.backend() == "torch" else 32
    assert resolve_steps_per_execution("auto") == expected

    class EveryBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    # a user's batch hook sees every batch, as with plain Keras; epoch-level callbacks
    # do not need that
    assert resolve_steps_per_execution("auto", [EveryBatch()]) == 1
    assert resolve_steps_per_execution("auto", [keras.callbacks.EarlyStopping()]) == expected
    assert resolve_steps_per_execution(4, [EveryBatch()]) == 4
    assert resolve_steps_per_execution("auto", [[keras.callbacks.EarlyStopping()],
                                                [EveryBatch()]]) == 1


@pytest.mark.parametrize("route", ["callbacks", "fit__callbacks"])
def test_a_fit_with_batch_hooks_runs_one_step_per_call(digits, route):
    # the network is compiled before scikeras gathers the callbacks; routed fit__callbacks
    # count as well as the constructor's
    import keras

    class EveryBatch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

    hook = EveryBatch()
    clf = KerasCNNClassifier(**dict(FAST, epochs=1), monitor=False, **{route: [hook]})
    clf.fit(digits.X_train, digits.y_train)
    assert clf.model_.steps_per_execution == 1
    assert hook.batches == clf._epoch_steps  # 43 batches of 32, each seen


def test_history_and_device_are_reported(fitted):
    assert len(fitted.history_["loss"]) == 2 and len(fitted.history_["accuracy"]) == 2
    assert fitted.device_.startswith(("cpu", "gpu"))


def test_validation_split_gives_validation_curves(digits):
    clf = KerasCNNClassifier(**FAST, validation_split=0.2).fit(digits.X_train, digits.y_train)
    assert len(clf.history_["val_loss"]) == 2 and len(clf.history_["val_accuracy"]) == 2


def test_validation_data_takes_images_and_raw_labels(digits):
    names = np.array(list("abcdefghij"))
    clf = KerasCNNClassifier(**FAST).fit(
        digits.X_train, names[digits.y_train],
        validation_data=(digits.X_test.reshape(len(digits.X_test), -1), names[digits.y_test]),
    )
    assert len(clf.history_["val_accuracy"]) == 2
    assert clf.history_["val_accuracy"][-1] == pytest.approx(
        clf.score(digits.X_test, names[digits.y_test]), abs=1e-6)


def test_augment_trains_and_is_off_at_prediction(digits):
    clf = KerasCNNClassifier(**{**FAST, "epochs": 1}, augment=True, precision="float32").fit(
        digits.X_train, digits.y_train)
    names = [layer.name for layer in clf.model_.layers]
    assert {"shift", "rotate", "zoom"} <= set(names)
    X = digits.X_test[:, :, :, None].astype(np.float32)
    # prediction is the network in inference mode, where the augmentation layers pass through
    np.testing.assert_allclose(clf.predict_proba(digits.X_test),
                               np.asarray(clf.model_(X, training=False)), rtol=1e-5, atol=1e-6)
    # in training mode they move the images, so the outputs change
    assert not np.allclose(np.asarray(clf.model_(X, training=True)),
                           np.asarray(clf.model_(X, training=False)), atol=1e-3)


@pytest.mark.parametrize("architecture", ["baseline", "batchnorm", "deep"])
def test_architectures_match_the_tutorial(architecture):
    model = cnn.build_cnn((28, 28, 1), 10, architecture=architecture, padding="valid", dropout=0.0)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    pools = [layer for layer in model.layers if layer.__class__.__name__ == "MaxPooling2D"]
    bns = [layer for layer in model.layers if layer.__class__.__name__ == "BatchNormalization"]
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [c.filters for c in convs] == ([32, 64, 64] if architecture == "deep" else [32])
    assert len(pools) == (2 if architecture == "deep" else 1)
    assert len(bns) == (2 if architecture == "batchnorm" else 0)
    assert [d.units for d in dense] == [100, 10]
    assert dense[-1].activation.__name__ == "softmax"
    assert convs[0].kernel_initializer.__class__.__name__ == "HeUniform"
    # the tutorial's baseline: 26x26x32 -> 13x13x32 -> 5408 features into Dense(100)
    if architecture == "baseline":
        assert model.get_layer("flatten").output.shape[-1] == 13 * 13 * 32


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_precision_sets_the_hidden_layers_dtype_policy(digits, precision):
    clf = KerasCNNClassifier(**FAST, precision=precision).fit(digits.X_train, digits.y_train)
    assert clf.precision_ == precision
    policies = {layer.name: layer.dtype_policy.name for layer in clf.model_.layers}
    assert policies["conv1"] == policies["dense"] == precision
    # weights, input scaling and the softmax stay float32 in every policy
    assert policies["scale"] == policies["softmax"] == "float32"
    assert all(w.dtype == "float32" for w in clf.model_.weights)
    proba = clf.predict_proba(digits.X_test)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(digits.X_test, digits.y_test) > 0.5  # it learns in either precision


def test_precision_auto_follows_the_cpu(monkeypatch):
    import keras

    from mnistbench.estimators import devices

    on_cpu = devices.keras_device().startswith("cpu")
    tf = keras.config.backend() == "tensorflow"
    for native in (True, False):
        monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda native=native: native)
        expected = "mixed_bfloat16" if (native and on_cpu and tf) else "float32"
        assert devices.resolve_precision("auto") == expected
    assert devices.resolve_precision("float32") == "float32"


def test_precision_survives_save_load(digits, tmp_path):
    clf = KerasCNNClassifier(**FAST, precision="mixed_bfloat16").fit(digits.X_train, digits.y_train)
    loaded = KerasCNNClassifier.load(clf.save(tmp_path / "bf16.keras"))
    assert loaded.precision_ == "mixed_bfloat16"
    np.testing.assert_allclose(loaded.predict_proba(digits.X_test), clf.predict_proba(digits.X_test), rtol=1e-6)


@pytest.mark.parametrize("module", [cnn, architectures, scikeras_compat])
def test_model_code_uses_only_the_keras_api(module):
    source = inspect.getsource(module)
    assert "import tensorflow" not in source and "tf." not in source


# ------------------------------------------------------------ misuse: loud, not silent
def test_learning_rate_zero_warns_at_chance_level(digits):
    clf = KerasCNNClassifier(**{**FAST, "learning_rate": 0.0})
    with pytest.warns(TrainingWarning, match="chance level") as record:
        clf.fit(digits.X_train, digits.y_train)
    assert record[0].filename == __file__  # points at the user's line, not into Keras


def test_exploding_learning_rate_warns_about_nan(digits):
    clf = KerasCNNClassifier(**{**FAST, "epochs": 3, "learning_rate": 1e8}, optimizer="sgd",
                             lr_schedule="constant")
    with pytest.warns(TrainingWarning, match="learning rate too high"):
        clf.fit(digits.X_train, digits.y_train)


def test_healthy_training_does_not_warn(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        KerasCNNClassifier(**FAST).fit(digits.X_train, digits.y_train)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda X, y: (X.reshape(len(X), -1)[:, :10], y), "not a square image"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y), "NaN or infinity"),
        (lambda X, y: (X, y[:-3]), "different lengths"),
        (lambda X, y: (X, np.zeros_like(y)), "at least 2 classes"),
        (lambda X, y: (X[:0], y[:0]), "0 sample"),
        (lambda X, y: (X[0].ravel(), y[:1]), "Reshape your data"),
        (lambda X, y: (np.repeat(X[..., None], 3, axis=-1), y), "rgb2gray"),
        (lambda X, y: (X, np.eye(10)[y]), "not one-hot"),
    ],
    ids=["non-square", "nan", "length-mismatch", "single-class", "empty", "1d", "rgb", "one-hot-y"],
)
def test_bad_input_gets_a_clear_error(digits, make, message):
    X, y = make(digits.X_train.astype(np.float32), digits.y_train)
    with pytest.raises(ValueError, match=message):
        KerasCNNClassifier(**FAST).fit(X, y)


def test_wrong_image_size_at_predict(fitted, digits):
    with pytest.raises(ValueError, match="X holds images of 28x28, but the model was fitted on images of 8x8"):
        fitted.predict(np.zeros((2, 28, 28)))


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        KerasCNNClassifier().predict(np.zeros((1, 8, 8)))


def test_bad_parameters_are_named(digits):
    for params, message in [({"architecture": "resnet"}, "'architecture' parameter.*'resnet'"),
                            ({"optimizer": "adagrad"}, "'optimizer' parameter.*'adagrad'"),
                            ({"epochs": 0}, "'epochs' parameter.*Got 0"),
                            ({"precision": "float16"}, "'precision' parameter.*'float16'"),
                            ({"learning_rate": "fast"}, "'learning_rate' parameter.*'fast'"),
                            ({"random_state": "abc"}, "'random_state' parameter.*'abc'"),
                            ({"architecture": "deep", "padding": "valid"}, "too small")]:
        with pytest.raises(ValueError, match=message):
            KerasCNNClassifier(**{**FAST, **params}).fit(digits.X_train, digits.y_train)


# ------------------------------------------------------------ persistence
def test_save_load_round_trip(fitted, digits, tmp_path):
    path = fitted.save(tmp_path / "model.keras")
    loaded = KerasCNNClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(digits.X_test), fitted.predict_proba(digits.X_test), rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict(digits.X_test), fitted.predict(digits.X_test))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.n_features_in_ == 64 and loaded.history_["loss"] == pytest.approx(fitted.history_["loss"])
    # the file is a normal Keras model too, taking raw pixels
    import keras

    raw = keras.saving.load_model(path).predict(digits.X_test[..., None].astype("float32"), verbose=0)
    np.testing.assert_allclose(raw, fitted.predict_proba(digits.X_test), rtol=1e-5, atol=1e-7)


def test_save_load_keeps_string_classes(digits, tmp_path):
    names = np.array(list("abcdefghij"))
    clf = KerasCNNClassifier(**FAST).fit(digits.X_train, names[digits.y_train])
    loaded = KerasCNNClassifier.load(clf.save(tmp_path / "s.keras"))
    np.testing.assert_array_equal(loaded.predict(digits.X_test), clf.predict(digits.X_test))


def test_a_file_saved_before_max_batch_size_loads_with_the_cap_it_was_trained_under(
        fitted, tmp_path):
    path = fitted.save(tmp_path / "old.keras")
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members["mnistbench.json"])
    assert meta["params"].pop("max_batch_size") == 32
    members["mnistbench.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert KerasCNNClassifier.load(path).max_batch_size == 128


def test_load_rejects_other_files(tmp_path):
    bogus = tmp_path / "x.keras"
    bogus.write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a model saved by KerasCNNClassifier"):
        KerasCNNClassifier.load(bogus)


def test_pickle_round_trip(fitted, digits):
    clone_ = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(clone_.predict_proba(digits.X_test), fitted.predict_proba(digits.X_test), rtol=1e-6)


@pytest.mark.slow
def test_deep_cnn_learns_full_mnist_in_one_epoch():
    """Full MNIST, one epoch: the defaults learn (no ~11 % plateau), in well under a minute."""
    ds = load_dataset("mnist")
    clf = KerasCNNClassifier(epochs=1, batch_size=128, min_steps=0, random_state=0).fit(
        ds.X_train, ds.y_train)
    assert clf.score(ds.X_test, ds.y_test) >= 0.98


def _autotuned():
    """Whether a dataset Keras builds from arrays now would run tf.data's autotuning."""
    from keras.src.trainers.data_adapters import array_data_adapter

    adapter = array_data_adapter.ArrayDataAdapter(np.zeros((10, 3)), np.zeros(10), batch_size=4)
    return adapter.get_tf_dataset().options().autotune.enabled is not False


def test_autotuning_is_off_inside_the_scope_nested_or_threaded_and_keras_restored_after():
    from keras.src.trainers.data_adapters import array_data_adapter

    from mnistbench.estimators.devices import tf_data_without_autotune

    original = array_data_adapter.ArrayDataAdapter.get_tf_dataset
    assert _autotuned()
    with tf_data_without_autotune():
        with tf_data_without_autotune():
            assert not _autotuned()
        assert not _autotuned()  # the inner exit leaves the outer scope in force
    assert array_data_adapter.ArrayDataAdapter.get_tf_dataset is original
    # scopes entered and left in any order by threads (GridSearchCV with a thread backend)
    barrier, seen = threading.Barrier(4), []

    def fit_in_a_thread(delay):
        with tf_data_without_autotune():
            barrier.wait()
            time.sleep(delay)
            seen.append(_autotuned())

    threads = [threading.Thread(target=fit_in_a_thread, args=(d,)) for d in (0, .01, .02, .03)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [False] * 4
    assert array_data_adapter.ArrayDataAdapter.get_tf_dataset is original


def test_fit_and_predict_build_their_keras_datasets_without_autotuning(digits, monkeypatch):
    import keras

    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("fit", _autotuned()))

    clf = KerasCNNClassifier("baseline", epochs=1, min_steps=0, filters=4, dense_units=8,
                             monitor=False, random_state=0, callbacks=[Spy()])
    clf.fit(digits.X_train[:64], digits.y_train[:64])
    predict = type(clf.model_).predict

    def spy_predict(model, *args, **kwargs):
        seen.append(("predict", _autotuned()))
        return predict(model, *args, **kwargs)

    monkeypatch.setattr(type(clf.model_), "predict", spy_predict)
    clf.predict(digits.X_test[:10])
    assert seen == [("fit", False), ("predict", False)]
    assert _autotuned()  # and Keras is itself again outside


def test_datasets_without_autotuning_train_the_same_weights(digits):
    """Only the pipeline's thread use changes: the batches, their order and the weights
    are those of Keras's own dataset."""
    import keras

    from mnistbench.estimators.devices import tf_data_without_autotune

    X, y = digits.X_train[:200].reshape(200, -1) / 16.0, digits.y_train[:200]

    def fit():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(X, y, batch_size=16, epochs=2, verbose=0)  # shuffled every epoch
        return model.get_weights()

    autotuned = fit()
    with tf_data_without_autotune():
        fixed = fit()
    for a, b in zip(autotuned, fixed, strict=True):
        np.testing.assert_array_equal(a, b)
