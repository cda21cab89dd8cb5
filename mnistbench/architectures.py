"""The tutorial's CNNs, built with the ``keras`` API only (TensorFlow, JAX or torch
backend), with their optimizers and the training monitor behind ``TrainingWarning``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from mnistbench.devices import import_keras_quietly

keras = import_keras_quietly()

__all__ = ["ARCHITECTURES", "AUGMENTATION", "LR_SCHEDULES", "OPTIMIZERS", "PRECISIONS",
           "TrainingMonitor", "TrainingWarning", "build_cnn", "make_optimizer",
           "warn_if_useless"]


class TrainingWarning(UserWarning):
    """Training went wrong in a way that makes the model useless (NaN loss, chance level)."""

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
        x = _augmentation(x, seed)

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


def _augmentation(x, seed):
    """Random shifts, rotations and zoom (``AUGMENTATION``); Keras applies them in training
    only."""
    layers, a = keras.layers, AUGMENTATION
    x = layers.RandomTranslation(a["shift"], a["shift"], fill_mode="constant", seed=seed,
                                 name="shift")(x)
    x = layers.RandomRotation(a["rotation_degrees"] / 360, fill_mode="constant", seed=seed,
                              name="rotate")(x)
    return layers.RandomZoom(a["zoom"], fill_mode="constant", seed=seed, name="zoom")(x)


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


def make_optimizer(name, learning_rate, momentum, schedule, total_steps):
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


class TrainingMonitor(keras.callbacks.Callback):
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


def warn_if_useless(problem, history, y_encoded, learning_rate, stacklevel=2):
    """Turn what the monitor saw into one plain-words warning, at the user's call site."""
    advice = (
        "Likely causes: learning rate too high (learning_rate={lr}; try {lr10:g}), "
        "inputs with extreme values, or too few epochs."
    ).format(lr=learning_rate, lr10=learning_rate / 10 or 1e-3)
    if problem and problem[0] == "nan":
        warnings.warn(
            f"Training stopped at epoch {problem[1]}: the loss became {problem[2]}. "
            f"The model is useless. {advice}",
            TrainingWarning,
            stacklevel=stacklevel,
        )
        return
    if problem and problem[0] == "diverged":
        warnings.warn(
            f"The training loss diverged (rose to {problem[2]:.3g} by epoch {problem[1]}). "
            + advice,
            TrainingWarning,
            stacklevel=stacklevel,
        )
    acc = history.get("accuracy") or []
    if not acc:
        return
    counts = np.bincount(np.asarray(y_encoded, dtype=np.int64).ravel())
    majority = counts.max() / counts.sum()
    if acc[-1] <= majority + 0.02:
        warnings.warn(
            f"Training accuracy ended at {acc[-1]:.1%}, chance level for these labels "
            f"(the most frequent class is {majority:.1%}) after {len(acc)} epoch(s): the "
            "network learned nothing. Likely causes: learning rate too high or too low "
            f"(learning_rate={learning_rate}), too few epochs or too little data, "
            "or labels that do not match the images.",
            TrainingWarning,
            stacklevel=stacklevel,
        )
