"""Before any work, each of the user's models is tried on a few training images of every
planned dataset: a model that would fail every unit is one usage error naming it, not a
table of failed rows after hours of work.

What is tried: ``set_params`` with the preset's budget, the ``--tune`` grid's keys (with
``--tune``), and, for a classic model, a fit on :data:`PER_CLASS` images of each class
and a predict, whose length and labels are checked. A deep model (its fit costs more than
a check) gets the parameter checks only.
"""

from __future__ import annotations

import warnings

import numpy as np

from mnistbench.errors import UsageError
from mnistbench.estimators.features import ROWS_STEP
from mnistbench.estimators.user_models import ROWS, ModelSpec

__all__ = ["PER_CLASS", "smoke_check"]

#: Training images of each class in a smoke fit.
PER_CLASS = 3


def smoke_check(models, loaded: dict, preset, tune=False) -> None:
    """Try every user's model (a :class:`ModelSpec` that is not built in) on each of the
    ``loaded`` datasets (``{name: Dataset}``); a :class:`UsageError` names the first
    model that fails, the dataset and the fix."""
    for spec in models:
        if isinstance(spec, ModelSpec) and not spec.builtin:
            for name, ds in loaded.items():
                _check(spec, name, ds, preset, tune)


def _sample(ds):
    y = np.asarray(ds.y_train)
    idx = np.concatenate([np.flatnonzero(y == c)[:PER_CLASS] for c in np.unique(y)])
    return ds.X_train[idx], y[idx]


def _check(spec: ModelSpec, dataset, ds, preset, tune):
    where = f"model {spec.name!r} ({spec.origin}) on {dataset}"
    est = spec.build(random_state=0, n_jobs=1)
    own = est.named_steps[ROWS_STEP] if spec.input == ROWS else est  # not our flattening step
    if not callable(getattr(own, "set_params", None)):
        raise UsageError(f"{where}: it has no set_params, which the run needs to set its "
                         "budget; derive it from sklearn.base.BaseEstimator")
    params = spec.budget(preset.params_for(spec.name, spec.family))
    try:
        est.set_params(**params)
    except Exception as exc:  # noqa: BLE001 - the user's code, named
        raise UsageError(f"{where}: set_params({params}) raised {type(exc).__name__}: {exc}; "
                         "set_params must take its own get_params keys") from None
    if tune and spec.grid:
        from sklearn.base import clone  # noqa: PLC0415 - only to try a grid

        first = {k: v[0] for k, v in spec.search_grid(spec.grid).items() if len(v)}
        try:
            clone(est).set_params(**first)
        except Exception as exc:  # noqa: BLE001 - a bad grid key, named
            keys = ", ".join(sorted(spec.param_keys)[:8])
            raise UsageError(f"{where}: its --tune grid {sorted(spec.grid)} does not fit its "
                             f"parameters ({type(exc).__name__}: {exc}); grid keys are "
                             f"set_params names, e.g. {keys}") from None
    if spec.family == "deep":
        return
    X, y = _sample(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 30-image fit may well not converge
        try:
            est.fit(X, y)
            pred = np.asarray(est.predict(X))
        except Exception as exc:  # noqa: BLE001 - the user's code, named
            raise UsageError(f"{where}: a smoke fit and predict on {len(y)} training images "
                             f"raised {type(exc).__name__}: {exc}; every unit would fail the "
                             "same way: fix the model, or give it CustomModel(..., "
                             "input='images' or 'rows')") from None
    if pred.shape != (len(y),):
        raise UsageError(f"{where}: predict returned an array of shape {pred.shape} for "
                         f"{len(y)} images; it must return one label per image")
    unknown = sorted(map(repr, set(pred.tolist()) - set(y.tolist())))  # 1.0 == 1, "1" != 1
    if unknown:
        raise UsageError(f"{where}: predict returned label(s) {', '.join(unknown[:5])} not "
                         f"among the training labels {sorted(set(y.tolist()))[:10]}; it must "
                         "return the labels fit received (e.g. self.classes_[...])")
