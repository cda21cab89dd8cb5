"""The tutorial's CNNs, built with the ``keras`` API only (TensorFlow, JAX or torch
backend), with their optimizers and the training monitor behind ``TrainingWarning``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from mnistbench.estimators.devices import import_keras_quietly

keras = import_keras_quietly()

__all__ = ["ARCHITECTURES", "AUGMENTATION", "LR_SCHEDULES", "OPTIMIZERS", "PRECISIONS",
           "TrainingMonitor", "TrainingWarning", "build_cnn", "make_optimizer",
           "training_budget", "unconverged", "warn_if_useless"]


class TrainingWarning(UserWarning):
    """Training went wrong: the model is useless (NaN loss, chance level) or the fit ended
    clearly unconverged (see ``unconverged``)."""

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
# first, stronger policy (shift and zoom twice these) cost the deep net accuracy:
# it spent capacity on variation the test set does not have (results/experiments/cnn_accuracy.md).
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


def training_budget(n, batch_size="auto", epochs=5, min_steps=2500,
                    max_batch_size=32) -> tuple[int, int, int]:
    """``(batch_size, epochs, steps_per_epoch)`` of a fit on ``n`` training images: a budget
    right at every data size (measured in results/experiments/cnn_budget.md).

    A budget in epochs alone is sized for one data size: 10 epochs at batch 128 are 4,690
    optimizer steps on 60,000 images but 110 on digits' 1,347, where the nets ended at
    60-80 % training accuracy. So:

    * ``batch_size="auto"`` is ``n / 400`` rounded to a power of two, from 16 to
      ``max_batch_size``. Smaller data gets smaller batches, hence more steps per epoch; on
      CPU a step of 16 images costs about a third of a step of 128, the cheap way to more
      steps. The cap of 32 makes 1,875 steps of an epoch on 60,000 images: 5 such epochs
      reach 99 % MNIST test accuracy sooner than 10 at batch 128, and end higher
      (results/experiments/cnn_time_to_99.md).
    * ``epochs`` is raised to ``ceil(min_steps / steps_per_epoch)`` where it would make
      fewer than ``min_steps`` steps (0: exactly ``epochs``).
    """
    if batch_size == "auto":
        batch_size = min(max_batch_size, max(16, 2 ** round(math.log2(max(n / 400, 1)))))
    steps_per_epoch = math.ceil(max(n, 1) / batch_size)
    if min_steps:
        epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    return int(batch_size), int(epochs), steps_per_epoch


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


def warn_if_useless(problem, history, y_encoded, learning_rate, stacklevel=2,
                    convergence=True):
    """Turn what the monitor saw into one plain-words warning, at the user's call site;
    with ``convergence``, also warn when the fit ended unconverged (``unconverged``)."""
    advice = (
        f"Likely causes: learning rate too high (learning_rate={learning_rate}; try {learning_rate / 10 or 1e-3:g}), "
        "inputs with extreme values, or too few epochs."
    )
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
        return
    why = unconverged(history) if convergence and not problem else None
    if why:
        warnings.warn(why, TrainingWarning, stacklevel=stacklevel)


#: ``unconverged``'s thresholds: final training accuracy (Keras's, dropout active) below
#: UNDERFIT_ACCURACY, or validation accuracy more than OVERFIT_GAP below training.
UNDERFIT_ACCURACY = 0.90
OVERFIT_GAP = 0.05


def unconverged(history) -> str | None:
    """Why a fit that learned something still ended clearly unconverged, in plain words
    with the fix; None when it did not.

    Two signs, read from the last epoch of ``history`` (Keras's ``loss``, ``accuracy``,
    ``val_accuracy``). A falling-loss slope is no sign under a cosine schedule: the rate
    reaches 0 at the end, so the curve flattens whether or not the fit converged.

    * underfit: training accuracy below 90 %, the digits fits of a 66-step budget (60-80 %);
      converged fits on MNIST-like data end above 97 %;
    * validation more than 5 points below training: overfitting, or batch-norm moving
      statistics that have not caught up with the weights (short runs).
    """
    acc = (history.get("accuracy") or [None])[-1]
    if acc is None:
        return None
    epochs = len(history.get("loss") or history["accuracy"])
    if acc < UNDERFIT_ACCURACY:
        return (
            f"The fit ended unconverged: training accuracy {acc:.1%} after {epochs} "
            f"epoch(s), with the training loss still at {history['loss'][-1]:.3g}. Train "
            "longer: raise min_steps or epochs (or the learning rate); for labels known to "
            "be noisy, this warning can be ignored."
        )
    val = (history.get("val_accuracy") or [None])[-1]
    if val is not None and acc - val > OVERFIT_GAP:
        return (
            f"Validation accuracy ended {100 * (acc - val):.1f} points below training "
            f"({val:.1%} against {acc:.1%}): the network does not generalise what it fit. "
            "Likely causes: too little data for the network (try augment=True or more "
            "dropout), or batch-norm statistics that have not settled in a short run "
            "(raise min_steps)."
        )
    return None
