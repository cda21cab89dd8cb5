"""KerasCNNClassifier: the tutorial's CNNs as a true scikit-learn classifier.

Built on scikeras's ``KerasClassifier`` and fixing what it gets wrong with
scikit-learn >= 1.6 (it is not recognised as a classifier there, so integer
``cv`` silently gives unstratified folds). The model code uses the ``keras``
API only, so it runs on the TensorFlow, JAX and torch backends.

This module imports Keras (through scikeras); ``import mnistbench`` does not
import this module until ``mnistbench.KerasCNNClassifier`` is first used.
"""

from __future__ import annotations

import json
import zipfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions

from mnistbench._version import __version__
from mnistbench.estimators.architectures import (
    ARCHITECTURES,
    LR_SCHEDULES,
    OPTIMIZERS,
    PRECISIONS,
    TrainingWarning,
    build_cnn,
    keras,
    make_optimizer,
    training_budget,
    warn_if_useless,
)
from mnistbench.estimators.devices import keras_device, resolve_precision, resolve_steps_per_execution
from mnistbench.estimators.features import check_greyscale, check_image_shape, check_labels, image_shape_for
from mnistbench.estimators.scikeras_compat import KerasClassifierBase, canonical_order, check_known_classes

__all__ = ["ARCHITECTURES", "KerasCNNClassifier", "TrainingWarning", "build_cnn",
           "canonical_order"]

_METADATA_MEMBER = "mnistbench.json"


# ------------------------------------------------------------------------ estimator
class KerasCNNClassifier(KerasClassifierBase):
    """A convolutional network for small greyscale images, as a scikit-learn classifier.

    Accepts images flat ``(n, h*w)`` (square side inferred, or ``image_shape``),
    ``(n, h, w)`` or ``(n, h, w, 1)``, as uint8 0-255, any other integer range or
    floats. The pixel scale is learned in ``fit`` (the largest absolute value
    seen) and applied inside the network. Labels may be of any kind (ints,
    strings); the output is always a softmax over ``classes_`` trained with sparse
    categorical cross-entropy, so the sigmoid / one-unit / unscaled-pixel mistakes
    that leave networks at ~11 % accuracy cannot happen.

    Parameters
    ----------
    architecture : {"deep", "baseline", "batchnorm"}, default="deep"
        The tutorial's three CNNs (see ``ARCHITECTURES``).
    epochs : int, default=5
        Passes over the training data, raised where needed to reach ``min_steps``
        (the number used is in ``epochs_``).
    batch_size : int or "auto", default="auto"
        "auto": ``n / 400`` rounded to a power of two, from 16 to ``max_batch_size`` (16
        for 1,347 or 6,667 images, 32 for 60,000); see ``architectures.training_budget``.
        The size used is in ``batch_size_``.
    max_batch_size : int, default=32
        The largest batch "auto" picks (run-all's default preset uses 128, the budget its
        recorded results were made with).
    min_steps : int, default=2500
        The least number of optimizer steps a ``fit`` makes: ``epochs`` is raised to
        ``ceil(min_steps / steps_per_epoch)`` where it would make fewer (5 epochs are 425
        steps on digits' 1,347 images: too few to converge). 0 trains exactly ``epochs``.
    optimizer : {"adam", "sgd", "rmsprop", "adamw"}, default="adam"
    learning_rate : float, default=1e-3
        Peak learning rate.
    momentum : float, default=0.9
        Momentum for "sgd" and "rmsprop".
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the rate to 0 over all epochs.
    filters : int, default=32
        Filters of the first conv block (the deep block uses twice as many).
    dense_units : int, default=100
    dropout : float, default=0.25
        Dropout rate after the conv blocks and after the dense layer.
    padding : {"same", "valid"}, default="same"
        The tutorial uses "valid"; "same" also fits 8x8 digits.
    precision : {"auto", "float32", "mixed_bfloat16"}, default="auto"
        Compute dtype of the hidden layers (weights and softmax stay float32).
        "auto" picks "mixed_bfloat16" where it is measured to be faster: TensorFlow
        on a CPU with native bfloat16 instructions (AVX512-BF16 or AMX, e.g. AMD Zen 4,
        Intel Sapphire Rapids), with the same accuracy
        (results/experiments/cnn_time_to_99.md); "float32" elsewhere,
        including GPUs (not yet measured there). The choice is in ``precision_``.
    steps_per_execution : int or "auto", default="auto"
        Optimizer steps per call into Keras's compiled train function. "auto" is 32 (1
        with the torch backend or ``callbacks`` with batch hooks): the same weights in
        less time for these small nets (``devices.resolve_steps_per_execution``;
        results/experiments/cnn_steps_per_execution.md).
    augment : bool, default=False
        Random shifts, rotations and zoom (``AUGMENTATION``) while training only;
        use more epochs with it (results/experiments/cnn_accuracy.md).
    image_shape : tuple (h, w) or None, default=None
        How to read flat rows. None infers a square side (784 -> 28x28, 64 -> 8x8);
        one entry may be -1 as in ``numpy.reshape`` (``(1, -1)`` treats any feature
        vector as a one-row strip).
    validation_split : float, default=0.0
        Fraction of the training data Keras holds out to report ``val_`` curves.
    monitor : bool, default=True
        Warn (``TrainingWarning``) when the loss turns NaN/inf or diverges, when
        training accuracy ends at chance level, or when ``fit`` ends clearly
        unconverged: training accuracy below 90 %, or validation accuracy more than 5
        points below training (``architectures.unconverged``).
    random_state : int or None, default=None
        Seeds Python, NumPy and the Keras backend; repeatable on CPU.
    verbose : int, default=0
        0 silent, 1 Keras progress bar per epoch, 2 one line per epoch.
    callbacks : list of keras callbacks, optional
    class_weight : dict or "balanced", optional
    warm_start : bool, default=False
        Each ``fit`` continues from the current weights, with a fresh cosine cycle (a warm
        restart: a spent schedule would leave the rate at 0 and nothing would train).
        ``partial_fit`` trains one epoch per call; its cycle restarts every ``epochs`` calls.
    **kwargs
        Routed parameters in scikeras's style (``fit__shuffle=False``...).

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
        Pixels per image (``h * w``), whatever form X came in.
    image_shape_ : tuple
        ``(h, w)`` of the fitted images.
    x_scale_ : float
        Divisor applied to the pixels.
    history_ : dict
        Per-epoch ``loss``, ``accuracy`` (and ``val_*``).
    device_ : str
        Where Keras trained, e.g. ``"cpu (tensorflow)"``.
    precision_ : str
        The dtype policy the network was built with ("float32" or "mixed_bfloat16").
    model_ : keras.Model
    """

    _parameter_constraints = {
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_batch_size": [Interval(Integral, 1, None, closed="left")],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "lr_schedule": [StrOptions(set(LR_SCHEDULES))],
        "filters": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "padding": [StrOptions({"same", "valid"})],
        "precision": [StrOptions(set(PRECISIONS))],
        "steps_per_execution": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"})],
        "augment": ["boolean"],
        "image_shape": [tuple, list, None],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "monitor": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
    }

    #: models.is_deep reads this: the "deep" family (models.FAMILIES) and its contract.
    _mnistbench_family, _mnistbench_input = "deep", "images"  # a run gives it (n, h, w)

    def __init__(
        self,
        architecture="deep",
        *,
        epochs=5,
        batch_size="auto",
        max_batch_size=32,
        min_steps=2500,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        lr_schedule="cosine",
        filters=32,
        dense_units=100,
        dropout=0.25,
        padding="same",
        precision="auto",
        steps_per_execution="auto",
        augment=False,
        image_shape=None,
        validation_split=0.0,
        monitor=True,
        random_state=None,
        verbose=0,
        callbacks=None,
        class_weight=None,
        warm_start=False,
        **kwargs,
    ):
        self.architecture = architecture
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size
        self.min_steps = min_steps
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.filters = filters
        self.dense_units = dense_units
        self.dropout = dropout
        self.padding = padding
        self.precision = precision
        self.steps_per_execution = steps_per_execution
        self.augment = augment
        self.image_shape = image_shape
        self.validation_split = validation_split
        self.monitor = monitor
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.warm_start = warm_start
        vars(self).update(kwargs)
        self._user_params = set(kwargs)

    # ------------------------------------------------------------ sklearn protocol
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------ input handling
    def _as_images(self, X, *, fitting):
        """Validate X and return float32 images (n, h, w, 1)."""

        if hasattr(X, "toarray"):  # scipy sparse: images are dense anyway
            X = X.toarray()
        # scikit-learn's own validation first: its messages for 1d input, empty data,
        # object/complex dtypes are the ones users know. Finiteness is checked below.
        X = check_array(X, dtype="numeric", allow_nd=True, ensure_all_finite=False)
        if X.ndim == 4:
            X = check_greyscale(X)[..., 0]
        elif X.ndim > 4:
            raise ValueError(f"X has {X.ndim} dimensions (shape {X.shape}); expected 2 to 4")
        n_pixels = int(np.prod(X.shape[1:]))
        if not fitting:
            check_image_shape(X.shape[1:] if X.ndim == 3 else None, self.image_shape_)
            if n_pixels != self.n_features_in_:
                raise ValueError(
                    f"X has {n_pixels} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input (images of "
                    f"{self.image_shape_[0]}x{self.image_shape_[1]})"
                )
            shape = self.image_shape_
        elif X.ndim == 2:
            shape = image_shape_for(X.shape[1], self.image_shape)
        else:
            shape = X.shape[1:]
        X = X.reshape(X.shape[0], *shape, 1).astype(np.float32, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(
                "Input X contains NaN or infinity; pixels must be finite numbers. Replace "
                "missing pixels first, e.g. np.nan_to_num(X)"
            )
        return X, tuple(int(s) for s in shape)

    def _check_params(self):
        unknown = sorted(k for k in getattr(self, "_user_params", ()) if "__" not in k)
        if unknown:
            raise TypeError(
                f"KerasCNNClassifier got unexpected parameter(s) {unknown}; see "
                "KerasCNNClassifier().get_params() for the parameters, and prefix routed "
                "Keras arguments with fit__ or predict__"
            )
        self._validate_params()  # _parameter_constraints: one line naming the parameter

    # ------------------------------------------------------------ model building
    def _seed(self):
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, np.random.RandomState):
            return int(np.random.RandomState(rs.get_state()[1][0]).randint(2**31 - 1))
        return int(rs)

    def _make_network(self):
        seed = self._seed()
        if seed is not None:
            keras.utils.set_random_seed(seed)
        model = build_cnn(
            (*self.image_shape_, 1),
            len(self.classes_),
            architecture=self.architecture,
            filters=self.filters,
            dense_units=self.dense_units,
            dropout=self.dropout,
            padding=self.padding,
            augment=self.augment,
            x_scale=self.x_scale_,
            seed=seed,
            precision=self.precision_,
        )
        # the cosine cycle, in optimizer steps
        self._schedule_steps = self._epoch_steps * self.epochs_
        model.compile(
            optimizer=make_optimizer(
                self.optimizer, self.learning_rate, self.momentum, self.lr_schedule,
                self._schedule_steps,
            ),
            loss=self.loss,
            metrics=["accuracy"],
            steps_per_execution=resolve_steps_per_execution(self.steps_per_execution,
                                                            self._fit_callbacks),
        )
        return model

    def _set_budget(self, n, kwargs, *, one_epoch=False):
        """Fix ``batch_size_``, ``epochs_`` and the optimizer steps per epoch for a fit on
        ``n`` images (see ``min_steps``); a ``batch_size``/``epochs`` passed to ``fit`` (or
        routed as ``fit__``) wins."""
        epochs = kwargs.get("epochs", getattr(self, "fit__epochs", self.epochs))
        self.batch_size_, self.epochs_, self._epoch_steps = training_budget(
            n * (1 - self.validation_split),
            kwargs.get("batch_size", getattr(self, "fit__batch_size", self.batch_size)),
            epochs, 0 if one_epoch or "epochs" in kwargs or hasattr(self, "fit__epochs")
            else self.min_steps, self.max_batch_size)
        kwargs["batch_size"] = self.batch_size_
        if not one_epoch:
            kwargs["epochs"] = self.epochs_

    def _restart_spent_schedule(self):
        """Before training a fitted network again (warm_start, partial_fit): restart a cosine
        schedule that has reached its end, whose rate is 0."""
        if not self.initialized_ or self.lr_schedule != "cosine":
            return
        optimizer = self.model_.optimizer
        if int(optimizer.iterations.numpy()) >= getattr(self, "_schedule_steps", np.inf):
            optimizer.iterations.assign(0)

    def _validation_inputs(self, X_val):
        return np.asarray(X_val, dtype=np.float32).reshape(len(X_val), *self.image_shape_, 1)

    def _images_for_predict(self, X):
        return self._as_images(X, fitting=False)[0]

    def _warn_if_useless(self, convergence=True):
        """Turn what the monitor saw into one plain-words warning, at the user's call site
        (not the convergence check after ``partial_fit``'s single epochs)."""
        if self.monitor:
            warn_if_useless(self._training_problem, self.history_, self._encoded_y,
                            self.learning_rate, stacklevel=4, convergence=convergence)
        del self._encoded_y

    # ------------------------------------------------------------ public API
    def fit(self, X, y, sample_weight=None, **kwargs):
        """Fit the CNN on images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n, h*w), (n, h, w) or (n, h, w, 1)
        y : array-like of shape (n,)
        sample_weight : array-like of shape (n,), optional
        **kwargs
            Passed to ``keras.Model.fit``. ``validation_data=(X_val, y_val)`` takes
            images and labels in the same forms as ``X`` and ``y`` and fills the
            ``val_loss`` / ``val_accuracy`` curves of ``history_``.

        Returns
        -------
        self
        """
        self._check_params()
        images, shape = self._as_images(X, fitting=True)
        y = check_labels(y, len(images))
        if not (self.warm_start and self.initialized_):
            self.image_shape_ = shape
            self.x_scale_ = float(np.abs(images).max()) or 1.0
            self.precision_ = resolve_precision(self.precision)
        self._set_budget(len(images), kwargs)
        self.device_ = keras_device()
        self._restart_spent_schedule()
        super().fit(images, y, sample_weight=sample_weight, **kwargs)
        self.n_features_in_ = shape[0] * shape[1]
        self._warn_if_useless()
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """Train one more epoch, keeping the weights (see ``fit`` for the inputs)."""
        self._check_params()
        fitted = self.initialized_
        images, shape = self._as_images(X, fitting=not fitted)
        y = np.asarray(y)
        check_known_classes(self.classes_ if fitted else None, y)  # one output per class
        if not fitted:
            self.image_shape_ = shape
            self.x_scale_ = float(np.abs(images).max()) or 1.0
            self._set_budget(len(images), kwargs, one_epoch=True)
            self.precision_ = resolve_precision(self.precision)
        elif hasattr(self, "batch_size_"):
            kwargs["batch_size"] = self.batch_size_
        else:  # loaded from a file saved before batch_size_ existed
            self._set_budget(len(images), kwargs, one_epoch=True)
        self.device_ = keras_device()
        self._restart_spent_schedule()
        super().partial_fit(images, y, classes=classes, sample_weight=sample_weight, **kwargs)
        self.n_features_in_ = self.image_shape_[0] * self.image_shape_[1]
        self._warn_if_useless(convergence=False)
        return self

    def predict_proba(self, X, **kwargs):
        """Class probabilities, shape (n, n_classes), rows summing to 1."""
        proba = super().predict_proba(X, **kwargs)
        return np.asarray(proba, dtype=np.float64).reshape(-1, len(self.classes_))

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``."""
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    # ------------------------------------------------------------ save / load
    def save(self, path, metadata=None):
        """Save in Keras's native ``.keras`` format, with the estimator's metadata inside.

        The file holds the network (which takes raw pixels: scaling is a layer) and a
        ``mnistbench.json`` entry with the parameters, classes and image shape, plus
        the JSON-able ``metadata`` dict given (dataset, scores...).
        """
        if not self.initialized_:
            raise ValueError("save() needs a fitted estimator; call fit first")
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"{path} must end in .keras (Keras's native format)")
        self.model_.save(path)
        classes = self.classes_
        meta = {
            **(metadata or {}),
            "format": 1,
            "estimator": type(self).__name__,
            "params": _json_params(self.get_params()),
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str,
            "image_shape": list(self.image_shape_),
            "x_scale": self.x_scale_,
            "history": {k: [float(v) for v in vals] for k, vals in self.history_.items()},
            "versions": _versions(),
        }
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(_METADATA_MEMBER, json.dumps(meta, indent=1, default=str))
        return path

    @classmethod
    def load(cls, path):
        """Load an estimator written by :meth:`save`; it predicts as before saving.

        Keras's safe mode stays on: no code stored in the file is executed.
        """
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read(_METADATA_MEMBER))
        except (KeyError, zipfile.BadZipFile, FileNotFoundError) as exc:
            raise ValueError(
                f"{path} is not a model saved by KerasCNNClassifier.save ({exc})"
            ) from exc
        model = keras.saving.load_model(path, safe_mode=True)  # refuses stored code first
        est = cls(**{"max_batch_size": 128, **meta["params"]})  # files older than the param
        est.model_ = model
        classes = np.asarray(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        outputs = model.output_shape[-1]
        if outputs != len(classes):
            raise ValueError(
                f"the file's network has {outputs} outputs but its metadata names "
                f"{len(classes)} classes; the file was altered or mixed from two models")
        est.image_shape_ = tuple(meta["image_shape"])
        est.x_scale_ = meta["x_scale"]
        est.history_ = meta["history"]
        h, w = est.image_shape_
        est._restore_fitted_state(classes, (h, w, 1))
        est.n_features_in_ = h * w
        est.device_ = keras_device()
        est.precision_ = model.get_layer("conv1").dtype_policy.name
        return est


def _json_params(params):
    out = {}
    for key, value in params.items():
        if key == "callbacks" and value is not None:
            continue  # callbacks are objects; a loaded model is for prediction
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[key] = value
    return out


def _versions():
    return {
        "mnistbench": __version__,
        "keras": keras.__version__,
        "backend": keras.config.backend(),
        "scikit-learn": sklearn.__version__,
    }
