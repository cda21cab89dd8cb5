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
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mnistbench.devices import import_keras_quietly, keras_device, resolve_precision
from mnistbench.features import check_greyscale, image_shape_for

keras = import_keras_quietly()

from scikeras.wrappers import KerasClassifier  # noqa: E402
from sklearn.exceptions import DataConversionWarning  # noqa: E402
from sklearn.utils import ClassifierTags  # noqa: E402

__all__ = ["ARCHITECTURES", "KerasCNNClassifier", "TrainingWarning", "build_cnn"]

#: Architectures from "How to Develop a CNN for MNIST Handwritten Digit Classification".
ARCHITECTURES = {
    "baseline": "Conv(f,3x3) + MaxPool + Dense(units) + softmax",
    "batchnorm": "baseline with batch normalisation after the conv and dense layers",
    "deep": "VGG-like: Conv(f) + MaxPool + Conv(2f) + Conv(2f) + MaxPool + Dense(units) + softmax",
}
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adamw")
#: ``precision`` values; "auto" resolves with ``devices.resolve_precision``.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
LR_SCHEDULES = ("constant", "cosine")
# augment=True: MNIST digits are size-normalised to a 20 px box and centred by
# mass, so test digits vary little in position and size but much in slant. The
# first policy (shift 10 %, zoom 10 %) cost the 32-filter deep net accuracy
# (99.46 % at 15 epochs, 99.48 % at 30, vs 99.51 % without): it spent capacity
# on variation the test set does not have. See results/cnn_accuracy.md.
AUGMENTATION = {"shift": 0.05, "rotation_degrees": 10.0, "zoom": 0.05}
_METADATA_MEMBER = "mnistbench.json"


class TrainingWarning(UserWarning):
    """Training went wrong in a way that makes the model useless (NaN loss, chance level)."""


# --------------------------------------------------------------------------- model
def build_cnn(
    input_shape,
    n_classes,
    *,
    architecture="deep",
    filters=32,
    dense_units=100,
    dropout=0.0,
    padding="same",
    augment=False,
    x_scale=255.0,
    seed=None,
    precision="float32",
):
    """Build (uncompiled) one of the tutorial's CNNs with the ``keras`` API only.

    Parameters
    ----------
    input_shape : tuple
        ``(h, w, 1)``.
    n_classes : int
        Width of the softmax output.
    architecture : {"baseline", "batchnorm", "deep"}
    filters, dense_units : int
        Filters of the first conv block (the deep block uses ``2 * filters``) and
        units of the hidden dense layer.
    dropout : float
        Dropout rate after the convolutional blocks and the dense layer (0 = none).
    padding : {"same", "valid"}
        Convolution and pooling padding. The tutorial uses "valid"; "same" also
        works on 8x8 digits and on other small inputs.
    augment : bool
        Random shifts, rotations and zoom (``AUGMENTATION``), active only while
        training.
    x_scale : float
        Inputs are divided by this inside the model (learned in ``fit``), so a saved
        model takes raw pixels.
    seed : int or None
        Seed of the augmentation layers.
    precision : {"float32", "mixed_bfloat16"}
        Dtype policy of the convolution and hidden layers. "mixed_bfloat16" keeps
        the weights in float32 and computes in bfloat16; the input scaling, the
        augmentation and the softmax output stay float32 either way.
    """
    layers = keras.layers
    init = "he_uniform"
    h, w = input_shape[:2]
    _check_spatial_size(h, w, architecture, padding)

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / x_scale, name="scale")(inputs)
    if augment:
        a = AUGMENTATION
        x = layers.RandomTranslation(a["shift"], a["shift"], fill_mode="constant", seed=seed, name="shift")(x)
        x = layers.RandomRotation(a["rotation_degrees"] / 360, fill_mode="constant", seed=seed, name="rotate")(x)
        x = layers.RandomZoom(a["zoom"], fill_mode="constant", seed=seed, name="zoom")(x)

    if precision not in PRECISIONS[1:]:
        raise ValueError(f"precision={precision!r} is not one of {list(PRECISIONS[1:])}")
    dt = {"dtype": precision}

    def conv(x, n, name):
        x = layers.Conv2D(n, 3, padding=padding, activation="relu", kernel_initializer=init,
                          name=name, **dt)(x)
        if architecture == "batchnorm":
            x = layers.BatchNormalization(name=name + "_bn", **dt)(x)
        return x

    x = conv(x, filters, "conv1")
    x = layers.MaxPooling2D(2, padding=padding, name="pool1", **dt)(x)
    if architecture == "deep":
        x = conv(x, 2 * filters, "conv2a")
        x = conv(x, 2 * filters, "conv2b")
        x = layers.MaxPooling2D(2, padding=padding, name="pool2", **dt)(x)
    x = layers.Flatten(name="flatten", **dt)(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed, name="drop1", **dt)(x)
    x = layers.Dense(dense_units, activation="relu", kernel_initializer=init, name="dense", **dt)(x)
    if architecture == "batchnorm":
        x = layers.BatchNormalization(name="dense_bn", **dt)(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed, name="drop2", **dt)(x)
    # softmax and loss in float32 whatever the policy (bfloat16 has 8 bits of mantissa)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"cnn_{architecture}")


def _check_spatial_size(h, w, architecture, padding):
    if padding == "same":
        return
    size = [h, w]
    steps = ["conv", "pool"] + (["conv", "conv", "pool"] if architecture == "deep" else [])
    for step in steps:
        size = [s - 2 if step == "conv" else s // 2 for s in size]
        if min(size) < 1:
            raise ValueError(
                f"a {h}x{w} image is too small for architecture={architecture!r} with "
                "padding='valid'; use padding='same' (the default)"
            )


def _make_optimizer(name, learning_rate, momentum, schedule, total_steps):
    lr = learning_rate
    if schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps))
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr)
    return keras.optimizers.RMSprop(learning_rate=lr, momentum=momentum)


class _TrainingMonitor(keras.callbacks.Callback):
    """Stops on a NaN/inf loss and notes divergence, for a plain-words warning later."""

    def __init__(self):
        super().__init__()
        self.problem = None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if not math.isfinite(loss):
            self.problem = ("nan", epoch + 1, loss)
            self.model.stop_training = True
        elif getattr(self, "_first", None) is None:
            self._first = loss
        elif loss > 3 * self._first and self.problem is None:
            self.problem = ("diverged", epoch + 1, loss)


# ------------------------------------------------------------------------ estimator
class KerasCNNClassifier(KerasClassifier):
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
    epochs : int, default=10
    batch_size : int, default=128
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
        Intel Sapphire Rapids), about 2x per epoch on this project's machine with
        the same accuracy (results/bench/cnn_time_to_99.md); "float32" elsewhere,
        including GPUs (not yet measured there). The choice is in ``precision_``.
    augment : bool, default=False
        Random shifts, rotations and zoom (``AUGMENTATION``) while training only;
        use more epochs with it (20 reach 99.51 % on MNIST).
    image_shape : tuple (h, w) or None, default=None
        How to read flat rows. None infers a square side (784 -> 28x28, 64 -> 8x8);
        one entry may be -1 as in ``numpy.reshape`` (``(1, -1)`` treats any feature
        vector as a one-row strip).
    validation_split : float, default=0.0
        Fraction of the training data Keras holds out to report ``val_`` curves.
    monitor : bool, default=True
        Warn (``TrainingWarning``) when the loss turns NaN/inf or diverges, or when
        training accuracy ends at chance level.
    random_state : int or None, default=None
        Seeds Python, NumPy and the Keras backend; repeatable on CPU.
    verbose : int, default=0
        0 silent, 1 Keras progress bar per epoch, 2 one line per epoch.
    callbacks : list of keras callbacks, optional
    class_weight : dict or "balanced", optional
    warm_start : bool, default=False
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

    # Fixed by design: not constructor parameters.
    loss = "sparse_categorical_crossentropy"
    metrics = None
    model = None
    build_fn = None
    shuffle = True
    run_eagerly = False
    validation_batch_size = None

    def __init__(
        self,
        architecture="deep",
        *,
        epochs=10,
        batch_size=128,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        lr_schedule="cosine",
        filters=32,
        dense_units=100,
        dropout=0.25,
        padding="same",
        precision="auto",
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
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.filters = filters
        self.dense_units = dense_units
        self.dropout = dropout
        self.padding = padding
        self.precision = precision
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
    def _get_param_names(self):
        import inspect  # noqa: PLC0415

        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self" and p.kind != p.VAR_KEYWORD
        ]
        return sorted(names + sorted(getattr(self, "_user_params", ())))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # scikeras lists ClassifierMixin after BaseEstimator, whose __sklearn_tags__
        # never reaches the mixin's: restore what makes this a classifier.
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.input_tags.sparse = True
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------ input handling
    def _as_images(self, X, *, fitting):
        """Validate X and return float32 images (n, h, w, 1)."""
        from sklearn.utils import check_array  # noqa: PLC0415

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
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture={self.architecture!r} is not one of {sorted(ARCHITECTURES)}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {list(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r} is not one of {list(LR_SCHEDULES)}")
        if self.padding not in ("same", "valid"):
            raise ValueError(f"padding={self.padding!r} must be 'same' or 'valid'")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} is not one of {list(PRECISIONS)}")
        if not (isinstance(self.epochs, (int, np.integer)) and self.epochs >= 1):
            raise ValueError(f"epochs={self.epochs!r} must be a positive integer")
        if not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise ValueError(f"batch_size={self.batch_size!r} must be a positive integer")
        if not (self.learning_rate > 0 or self.learning_rate == 0):
            raise ValueError(f"learning_rate={self.learning_rate!r} must be >= 0")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout!r} must be in [0, 1)")

    def _check_y(self, y, n):
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; using y.ravel()",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(
                f"y has shape {y.shape}; KerasCNNClassifier predicts one label per image: pass "
                "a 1d array of labels (not one-hot: use y.argmax(axis=1))"
            )
        if len(y) != n:
            raise ValueError(
                f"X and y have different lengths: {n} images but {len(y)} labels"
            )
        if y.dtype.kind == "f":
            if not np.isfinite(y).all():
                raise ValueError("Input y contains NaN or infinity")
            if not np.array_equal(y, np.rint(y)):
                raise ValueError(
                    "Unknown label type: continuous. y holds non-integer floats; a classifier "
                    "needs class labels"
                )
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise ValueError(
                f"y has {n_classes} class; a classifier needs at least 2 classes to learn from"
            )
        return y

    # ------------------------------------------------------------ model building
    def _seed(self):
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, np.random.RandomState):
            return int(np.random.RandomState(rs.get_state()[1][0]).randint(2**31 - 1))
        return int(rs)

    def _keras_build_fn(self):
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
        steps = math.ceil(self._n_fit_samples * (1 - self.validation_split) / self.batch_size)
        model.compile(
            optimizer=_make_optimizer(
                self.optimizer, self.learning_rate, self.momentum, self.lr_schedule,
                steps * self.epochs,
            ),
            loss=self.loss,
            metrics=["accuracy"],
        )
        return model

    def _build_keras_model(self):
        # scikeras seeds through TensorFlow only; we seed through keras (any backend).
        self._random_state = None
        return super()._build_keras_model()

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        seed = self._seed()
        if seed is not None:
            keras.utils.set_random_seed(seed + initial_epoch)
        if kwargs.get("validation_data") is not None:
            # Users pass (images, labels) as for fit; Keras needs them encoded like y.
            X_val, y_val = kwargs["validation_data"][:2]
            X_val = np.asarray(X_val, dtype=np.float32).reshape(len(X_val), *self.image_shape_, 1)
            kwargs["validation_data"] = (X_val, self.target_encoder_.transform(np.asarray(y_val)))
        monitor = _TrainingMonitor()
        self._fit_callbacks = [cb for cb in self._fit_callbacks if not isinstance(cb, _TrainingMonitor)]
        if self.monitor:
            self._fit_callbacks.append(monitor)
        super()._fit_keras_model(
            X, y, sample_weight=sample_weight, warm_start=warm_start, epochs=epochs,
            initial_epoch=initial_epoch, **kwargs,
        )
        if monitor in self._fit_callbacks:
            self._fit_callbacks.remove(monitor)
        self._training_problem = monitor.problem
        self._encoded_y = y

    def _warn_if_useless(self):
        """Turn what the monitor saw into one plain-words warning, at the user's call site."""
        if not self.monitor:
            return
        problem, y_encoded = self._training_problem, self._encoded_y
        del self._encoded_y
        advice = (
            "Likely causes: learning rate too high (learning_rate={lr}; try {lr10:g}), "
            "inputs with extreme values, or too few epochs."
        ).format(lr=self.learning_rate, lr10=self.learning_rate / 10 or 1e-3)
        if problem and problem[0] == "nan":
            warnings.warn(
                f"Training stopped at epoch {problem[1]}: the loss became {problem[2]}. "
                f"The model is useless. {advice}",
                TrainingWarning,
                stacklevel=3,
            )
            return
        if problem and problem[0] == "diverged":
            warnings.warn(
                f"The training loss diverged (rose to {problem[2]:.3g} by epoch {problem[1]}). "
                + advice,
                TrainingWarning,
                stacklevel=3,
            )
        acc = self.history_.get("accuracy") or []
        if not acc:
            return
        counts = np.bincount(np.asarray(y_encoded, dtype=np.int64).ravel())
        majority = counts.max() / counts.sum()
        if acc[-1] <= majority + 0.02:
            warnings.warn(
                f"Training accuracy ended at {acc[-1]:.1%}, chance level for these labels "
                f"(the most frequent class is {majority:.1%}) after {len(acc)} epoch(s): the "
                "network learned nothing. Likely causes: learning rate too high or too low "
                f"(learning_rate={self.learning_rate}), too few epochs or too little data, "
                "or labels that do not match the images.",
                TrainingWarning,
                stacklevel=3,
            )

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
        y = self._check_y(y, len(images))
        if not (self.warm_start and self.initialized_):
            self.image_shape_ = shape
            self.x_scale_ = float(np.abs(images).max()) or 1.0
            self.precision_ = resolve_precision(self.precision)
        self._n_fit_samples = len(images)
        self.device_ = keras_device()
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
        if not fitted:
            self.image_shape_ = shape
            self.x_scale_ = float(np.abs(images).max()) or 1.0
            self._n_fit_samples = len(images)
            self.precision_ = resolve_precision(self.precision)
        self.device_ = keras_device()
        super().partial_fit(images, y, classes=classes, sample_weight=sample_weight, **kwargs)
        self.n_features_in_ = self.image_shape_[0] * self.image_shape_[1]
        self._warn_if_useless()
        return self

    def _predict_raw(self, X, **kwargs):
        if not self.initialized_:
            from sklearn.exceptions import NotFittedError  # noqa: PLC0415

            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        images, _ = self._as_images(X, fitting=False)
        kwargs.setdefault("batch_size", max(1024, self.batch_size))
        kwargs.setdefault("verbose", 0)
        # Predict in a canonical order of the images, then put the rows back. Batched
        # float32 kernels (oneDNN on AVX2, say) may round a sample differently at the
        # last bit depending on where it sits in a batch; in canonical order the same
        # set of images always makes the same batches, so the output of each image
        # cannot depend on the order the caller passed them in.
        order = canonical_order(images)
        raw = np.asarray(super()._predict_raw(images[order], **kwargs))
        out = np.empty_like(raw)
        out[order] = raw
        return out

    def predict_proba(self, X, **kwargs):
        """Class probabilities, shape (n, n_classes), rows summing to 1."""
        proba = super().predict_proba(X, **kwargs)
        return np.asarray(proba, dtype=np.float64).reshape(-1, len(self.classes_))

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``."""
        from sklearn.metrics import accuracy_score  # noqa: PLC0415

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
        est = cls(**meta["params"])
        est.model_ = model
        classes = np.asarray(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        est.image_shape_ = tuple(meta["image_shape"])
        est.x_scale_ = meta["x_scale"]
        est.history_ = meta["history"]
        est._restore_fitted_state(classes)
        return est

    def _restore_fitted_state(self, classes):
        from scikeras.wrappers import BaseWrapper  # noqa: PLC0415

        h, w = self.image_shape_
        self.classes_ = None
        self.target_encoder_ = self.target_encoder.fit(classes)
        vars(self).update(getattr(self.target_encoder_, "get_metadata", dict)())
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.target_type_ = "multiclass" if len(classes) > 2 else "binary"
        self.y_dtype_ = classes.dtype
        self.y_ndim_ = 1
        self.X_dtype_ = np.dtype(np.float32)
        self.X_shape_ = (0, h, w, 1)
        self.n_features_in_ = h * w
        self.feature_encoder_ = self.feature_encoder.fit(np.zeros((1, h, w, 1), np.float32))
        self._random_state = None
        self.device_ = keras_device()
        self.precision_ = self.model_.get_layer("conv1").dtype_policy.name
        BaseWrapper._initialize_callbacks(self)


def canonical_order(images) -> np.ndarray:
    """A permutation that sorts images by their bytes: the same for any ordering of the
    same images (identical images are interchangeable)."""
    rows = np.ascontiguousarray(images).reshape(len(images), -1)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return np.argsort(keys, kind="stable")


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
    import sklearn  # noqa: PLC0415

    from mnistbench import __version__  # noqa: PLC0415

    return {
        "mnistbench": __version__,
        "keras": keras.__version__,
        "backend": keras.config.backend(),
        "scikit-learn": sklearn.__version__,
    }
