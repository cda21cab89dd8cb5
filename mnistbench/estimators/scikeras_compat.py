"""Everything that touches scikeras's internals, in one place.

:class:`KerasClassifierBase` is scikeras's ``KerasClassifier`` with each override of a
private scikeras hook (``_keras_build_fn``, ``_build_keras_model``,
``_fit_keras_model``, ``_predict_raw``, ``_get_param_names``, the fitted state that
``_initialize_callbacks`` and the encoders expect) and the tag repairs it needs under
scikit-learn >= 1.6. A subclass supplies the network and the input handling through
the hooks named below and never touches scikeras itself.

scikeras is pinned to the minor version these overrides were written for
(``TESTED_SCIKERAS``; pyproject.toml), and ``tests/estimators/test_common.py`` checks that every
hook overridden here still exists, with the arguments we pass, in the installed one.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils import ClassifierTags

from mnistbench.estimators.architectures import TrainingMonitor
from mnistbench.estimators.devices import import_keras_quietly, tf_data_without_autotune

keras = import_keras_quietly()

from scikeras.wrappers import BaseWrapper, KerasClassifier  # noqa: E402 - after the quiet Keras import

__all__ = ["OVERRIDDEN_HOOKS", "TESTED_SCIKERAS", "KerasClassifierBase", "canonical_order"]

#: The scikeras minor version the overrides below were written and tested against.
TESTED_SCIKERAS = "0.13"
#: scikeras's private methods that :class:`KerasClassifierBase` overrides or calls.
OVERRIDDEN_HOOKS = ("_build_keras_model", "_fit_keras_model", "_predict_raw",
                    "_get_param_names", "_initialize_callbacks")


def canonical_order(images) -> np.ndarray:
    """A permutation that sorts images by their bytes: the same for any ordering of the
    same images (identical images are interchangeable)."""
    rows = np.ascontiguousarray(images).reshape(len(images), -1)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return np.argsort(keys, kind="stable")


def check_known_classes(classes, y) -> None:
    """A later ``partial_fit`` call may not bring labels the network has no output for
    (``classes``: the fitted ``classes_``; None before the first call)."""
    if classes is None:
        return
    known = np.asarray(classes).tolist()
    new = sorted(set(np.unique(y).tolist()) - set(known))
    if new:
        raise ValueError(f"partial_fit got label(s) {new[:5]} that the first fit did not have "
                         f"(its classes: {known[:10]}); pass every class to the first call, "
                         "e.g. partial_fit(X, y, classes=all_labels), or fit anew")


class KerasClassifierBase(KerasClassifier):
    """scikeras's ``KerasClassifier`` made a well-behaved scikit-learn classifier.

    A subclass defines, besides its ``__init__`` parameters:

    * ``_make_network(self) -> keras.Model``: the compiled network (``classes_``, the
      subclass's fitted input state and ``_fit_callbacks``, the callbacks the fit will use,
      are set when it is called);
    * ``_images_for_predict(self, X) -> ndarray``: validated inputs of a fitted model;
    * ``_validation_inputs(self, X) -> ndarray``: ``validation_data`` images for Keras;
    * ``_seed(self) -> int | None``; and the parameters ``monitor`` and ``batch_size``.
    """

    # Fixed by design: not constructor parameters.
    loss = "sparse_categorical_crossentropy"
    metrics = None
    model = None
    build_fn = None
    shuffle = True
    run_eagerly = False
    validation_batch_size = None

    # ------------------------------------------------------------ sklearn protocol
    def _get_param_names(self):
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
        return tags

    # ------------------------------------------------------------ scikeras hooks
    def _keras_build_fn(self):
        return self._make_network()

    def _build_keras_model(self):
        # scikeras seeds through TensorFlow only; we seed through keras (any backend).
        self._random_state = None
        # scikeras gathers the fit's callbacks (``callbacks`` and routed ``fit__callbacks``)
        # only after building; compiling may depend on them (steps per execution)
        self._initialize_callbacks()
        return super()._build_keras_model()

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        seed = self._seed()
        if seed is not None:
            keras.utils.set_random_seed(seed + initial_epoch)
        if kwargs.get("validation_data") is not None:
            # Users pass (images, labels) as for fit; Keras needs them encoded like y.
            X_val, y_val = kwargs["validation_data"][:2]
            kwargs["validation_data"] = (self._validation_inputs(X_val),
                                         self.target_encoder_.transform(np.asarray(y_val)))
        monitor = TrainingMonitor()
        self._fit_callbacks = [cb for cb in self._fit_callbacks
                               if not isinstance(cb, TrainingMonitor)]
        if self.monitor:
            self._fit_callbacks.append(monitor)
        with tf_data_without_autotune():  # no stall at each epoch's end
            super()._fit_keras_model(
                X, y, sample_weight=sample_weight, warm_start=warm_start, epochs=epochs,
                initial_epoch=initial_epoch, **kwargs,
            )
        if monitor in self._fit_callbacks:
            self._fit_callbacks.remove(monitor)
        self._training_problem = monitor.problem
        self._encoded_y = y

    def _predict_raw(self, X, **kwargs):
        if not self.initialized_:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        images = self._images_for_predict(X)
        kwargs.setdefault("batch_size", max(1024, getattr(self, "batch_size_", 0)))
        kwargs.setdefault("verbose", 0)
        # Predict in a canonical order of the images, then put the rows back. Batched
        # float32 kernels (oneDNN on AVX2, say) may round a sample differently at the
        # last bit depending on where it sits in a batch; in canonical order the same
        # set of images always makes the same batches, so the output of each image
        # cannot depend on the order the caller passed them in.
        order = canonical_order(images)
        with tf_data_without_autotune():
            raw = np.asarray(super()._predict_raw(images[order], **kwargs))
        out = np.empty_like(raw)
        out[order] = raw
        return out

    def _restore_fitted_state(self, classes, input_shape):
        """After ``model_`` is loaded from a file: the state scikeras's encoders and
        callbacks expect of a fitted wrapper. ``input_shape`` is one sample's shape."""
        self.classes_ = None
        self.target_encoder_ = self.target_encoder.fit(classes)
        vars(self).update(getattr(self.target_encoder_, "get_metadata", dict)())
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.target_type_ = "multiclass" if len(classes) > 2 else "binary"
        self.y_dtype_ = classes.dtype
        self.y_ndim_ = 1
        self.X_dtype_ = np.dtype(np.float32)
        self.X_shape_ = (0, *input_shape)
        self.feature_encoder_ = self.feature_encoder.fit(np.zeros((1, *input_shape), np.float32))
        self._random_state = None
        BaseWrapper._initialize_callbacks(self)
