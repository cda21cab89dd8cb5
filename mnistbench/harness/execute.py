"""Fit and score one unit in this process, and turn the outcome into its record."""

from __future__ import annotations

import hashlib
import time
import traceback
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_info

from mnistbench.data.datasets import load_dataset
from mnistbench.errors import DataVerificationError
from mnistbench.estimators.models import is_deep
from mnistbench.evaluation.records import Record, Split
from mnistbench.evaluation.robustness import corrupted_sets, score_corrupted
from mnistbench.evaluation.stats import encode_predictions
from mnistbench.evaluation.tuning import halving_search, search_summary
from mnistbench.harness.presets import Preset
from mnistbench.harness.units import Unit
from mnistbench.hostinfo import host_description, library_versions

__all__ = ["failed_record", "record_unit", "run_unit", "stratified_subsample"]

_DATA_CACHE: dict = {}


def stratified_subsample(X, y, n, seed):
    if n is None or n >= len(y):
        return X, y
    X_sub, _, y_sub, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=seed)
    return X_sub, y_sub


def _data(dataset, preset: Preset, seed, data_options):
    key = (dataset, preset.cv_subsample, preset.train_subsample, seed)  # not the name: a
    # Preset made with dataclasses.replace keeps its name and may change the subsamples
    if key not in _DATA_CACHE:
        ds = load_dataset(dataset, **data_options)
        X_cv, y_cv = stratified_subsample(ds.X_train, ds.y_train, preset.cv_subsample, seed)
        X_tr, y_tr = stratified_subsample(ds.X_train, ds.y_train, preset.train_subsample, seed)
        _DATA_CACHE.clear()  # one dataset in memory at a time
        _DATA_CACHE[key] = (ds, X_cv, y_cv, X_tr, y_tr)
    return _DATA_CACHE[key]


def test_set_fingerprint(ds) -> str:
    """SHA-256 (16 hex digits) of a dataset's test images and labels, in order: two test
    records scored the same images exactly when theirs agree."""
    digest = hashlib.sha256()
    for array in (ds.X_test, ds.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    return digest.hexdigest()[:16]


def _split(unit: Unit, data_options):
    """The unit's data: ``(dataset, seed, curve point or None, X_fit, y_fit, X_eval, y_eval)``."""
    preset = unit.preset
    ds, X_cv, y_cv, X_tr, y_tr = _data(unit.source or unit.dataset, preset, unit.seed,
                                       data_options or {})
    found = ds.extra.get("fingerprint")
    if unit.data_fingerprint is not None and found != unit.data_fingerprint:
        raise DataVerificationError(
            f"{unit.dataset}: the data changed during the run (fingerprint {found}, planned "
            f"{unit.data_fingerprint}); nothing is recorded under the planned data: restore "
            "it, or run the command again to use the new data")
    split = Split.parse(unit.split)
    if split.is_curve:  # a learning-curve point: a stratified subsample, the whole test
        size, seed = split.size, unit.seed + split.repeat - 1
        X_fit, y_fit = stratified_subsample(ds.X_train, ds.y_train, size, seed)
        return ds, seed, size, X_fit, y_fit, ds.X_test, ds.y_test
    if split.is_test:
        return ds, unit.seed, None, X_tr, y_tr, ds.X_test, ds.y_test
    folds = StratifiedKFold(preset.cv, shuffle=True,
                            random_state=unit.seed + (split.repeat or 1) - 1)
    train_idx, val_idx = list(folds.split(X_cv, y_cv))[split.fold - 1]
    return (ds, unit.seed, None, X_cv[train_idx], y_cv[train_idx], X_cv[val_idx],
            y_cv[val_idx])


def run_unit(unit: Unit, data_options=None) -> Record:
    """Fit and score one unit in this process; return its :class:`Record` (status ok)."""
    preset = unit.preset
    ds, seed, size, X_fit, y_fit, X_eval, y_eval = _split(unit, data_options)
    est = unit.model_spec.build(random_state=seed, device=unit.device, n_jobs=unit.threads)
    est.set_params(**unit.params)
    fit_kwargs = {}
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    # A Keras final step (models.FAMILIES's "deep" contract: ``verbose``, ``history_``,
    # ``fit(validation_data=...)``), read from the estimator, a user's pipeline included.
    deep = is_deep(est)
    if deep:
        # Keras's epoch lines only when asked (--verbose): by default the progress bar
        # is the one thing on the screen, not lines from every worker interleaved with it.
        final.set_params(verbose=2 if unit.verbose >= 2 else 0)
    if deep and size is None and not unit.tune and unit.model_spec.input == "images":
        # Learning curves against the held-out part, as the tutorial plots them: for the
        # figures only, never for a training decision (no early stopping on it). Not for
        # a learning-curve point: scoring 10,000 test images after each of the hundreds
        # of short epochs of a 100-image fit would cost more than the fit. Not for a
        # tuned unit: the search would pass it to every inner fit too.
        on = f"{est.steps[-1][0]}__" if hasattr(est, "steps") else ""  # a pipeline's last step
        fit_kwargs[f"{on}validation_data"] = (X_eval, y_eval)
    search = None
    if unit.tune:  # nested CV: the search sees only this unit's training data
        search = halving_search(est, unit.model_spec.search_grid(unit.tune), seed=seed,
                                max_samples=preset.tune_max_samples, n_samples=len(y_fit))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (search or est).fit(X_fit, y_fit, **fit_kwargs)
    fit_s = time.perf_counter() - t0
    if search is not None:
        est = search.best_estimator_
        final = est.steps[-1][1] if hasattr(est, "steps") else est
    t0 = time.perf_counter()
    pred = est.predict(X_eval)
    predict_s = time.perf_counter() - t0

    record = _base_record(unit)
    if search is not None:
        record["search"] = search_summary(search)
    record.update(
        status="ok",
        n_train=int(len(y_fit)),
        n_test=int(len(y_eval)),
        accuracy=float(accuracy_score(y_eval, pred)),
        macro_f1=float(f1_score(y_eval, pred, average="macro")),
        fit_seconds=round(fit_s, 3),
        predict_seconds=round(predict_s, 4),
        device=_device_of(final),
        # what the native thread pools (BLAS, OpenMP) were really capped at (--threads)
        thread_caps=sorted({(i["user_api"], i["num_threads"]) for i in threadpool_info()}),
    )
    fit_warnings = _fit_warnings(caught)
    if fit_warnings:
        record["warnings"] = fit_warnings
    if deep:
        record["history"] = {k: [float(v) for v in vals] for k, vals in final.history_.items()}
        record["budget"] = {"epochs": final.epochs_, "batch_size": final.batch_size_,
                            "steps": final.epochs_ * final._epoch_steps}
    if unit.split == "test":
        record["test_set"] = test_set_fingerprint(ds)  # `compare` pairs runs on it
        labels = np.unique(np.concatenate([np.asarray(y_eval), np.asarray(pred)]))
        record["labels"] = labels.tolist()
        names = ds.extra.get("class_names")
        if names is not None and np.issubdtype(labels.dtype, np.integer):
            record["class_names"] = [names[int(k)] for k in labels]  # Fashion-MNIST's
        record["confusion"] = confusion_matrix(y_eval, pred, labels=labels).tolist()
        # every statistic of the report (intervals, McNemar) comes from this, not a refit
        record["predictions"] = encode_predictions(y_eval, pred)
        if preset.robustness:
            record["robustness"] = _robustness(est, unit, ds)
    return Record.from_dict(record)


def _robustness(est, unit, ds) -> dict:
    """Scores under the corruptions; a failure here is kept in the record, and the fit's
    own scores are not lost with it."""
    try:
        sets = corrupted_sets(unit.dataset, ds, unit.preset.robustness, unit.seed)
        return score_corrupted(est, sets, ds.X_test, ds.y_test)
    except Exception as exc:  # noqa: BLE001 - recorded, the unit stays ok
        return {"error": f"{type(exc).__name__}: {exc}"}


#: Warnings that say something about the fit's result, kept in its record and shown in
#: the tables: the CNN's TrainingWarning (unconverged, diverged, chance level) and
#: scikit-learn's ConvergenceWarning (a solver stopped at its iteration cap).
_RECORDED_WARNINGS = ("TrainingWarning", "ConvergenceWarning")


def _fit_warnings(caught) -> list[str]:
    """The distinct fit warnings worth a reader's attention, as ``"Category: message"``."""
    out = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).strip()}"
        if w.category.__name__ in _RECORDED_WARNINGS and text not in out:
            out.append(text)
    return out


def _device_of(estimator):
    """The record's device: "cpu", "cuda", "gpu:NAME (backend)"; a CNN computing in a
    reduced precision adds it, e.g. "cpu (mixed_bfloat16)"."""
    device = getattr(estimator, "device_", None) or "cpu"
    if device.startswith("cpu"):
        device = device.split(" (")[0]
    precision = getattr(estimator, "precision_", "float32")
    return device if precision == "float32" else f"{device} ({precision})"


def _base_record(unit: Unit) -> dict:
    custom = {"family": unit.spec.family, "origin": unit.spec.origin} if unit.spec else {}
    return {
        "dataset": unit.dataset,
        "model": unit.label,
        **custom,
        "split": unit.split,
        "preset": unit.preset.name,
        "seed": unit.seed,
        "params": unit.params,
        "params_hash": unit.params_hash,
        **({"tuned_from": unit.model, "grid": unit.tune} if unit.tune else {}),
        "versions": library_versions(),
        "host": host_description(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def record_unit(unit: Unit, data_options=None) -> Record:
    """:func:`run_unit`, with any failure turned into a ``failed`` :class:`Record`: what a
    worker returns."""
    try:
        return run_unit(unit, data_options)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded
        record = _base_record(unit)
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8))
        return Record.from_dict(record)


def failed_record(unit: Unit, error: str, status="failed") -> Record:
    """The record of a unit that produced none itself (worker lost, timed out)."""
    record = _base_record(unit)
    record.update(status=status, error=error)
    return Record.from_dict(record)
