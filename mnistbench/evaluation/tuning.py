"""The tuned mode: nested cross-validation with successive halving, and its side-by-side table.

``run-all --tune`` adds a tuned twin of every model (``svc-tuned`` beside ``svc``). Each of
its units runs a :class:`~sklearn.model_selection.HalvingGridSearchCV` over the registry
entry's ``grid`` on *that unit's training data only* (an outer CV fold's training part, or
the training split for the final fit), then scores the refitted best model on the unit's
held-out part. That is nested cross-validation: the outer folds score the whole tuning
procedure, and the test split never takes part in a choice.

Successive halving keeps the search inside a budget: every candidate is first scored on a
fraction of the samples, and only the best ``1 / factor`` go on to more. ``max_samples``
caps the samples of the last round (the refit still uses the whole training data), so
tuning the final fit on 60,000 images costs about what tuning a 10,000-image fold does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the import
from sklearn.model_selection import HalvingGridSearchCV, StratifiedKFold

from mnistbench.estimators.models import TUNED_SUFFIX, tuned_label

__all__ = ["TUNED_SUFFIX", "TUNING", "halving_search", "search_summary", "tuned_label",
           "tuning_table"]

#: The search's settings, part of a tuned unit's parameter hash.
TUNING = {"inner_cv": 3, "factor": 3}


def halving_search(estimator, grid: dict, seed=0, max_samples=None, n_samples=None,
                   inner_cv=TUNING["inner_cv"], factor=TUNING["factor"]):
    """A successive-halving grid search of ``estimator`` over ``grid``.

    Stratified ``inner_cv``-fold CV (shuffled with ``seed``) on the data it is fitted on;
    the resource is the number of training samples, at most ``max_samples`` in the last
    round (all of them when None; ``n_samples``, the size of the data to be fitted, is
    needed to apply the cap). ``refit=True``: the best candidate is refitted on all the
    data. A candidate that fails makes the search fail (``error_score="raise"``): a
    silently skipped candidate would make the choice look better founded than it is.
    """
    if not grid:
        raise ValueError("an empty grid has nothing to tune; give the entry a grid")
    max_resources = "auto"
    if max_samples is not None and n_samples is not None and n_samples > max_samples:
        max_resources = int(max_samples)
    return HalvingGridSearchCV(
        estimator, grid, factor=factor, resource="n_samples", max_resources=max_resources,
        min_resources="exhaust", cv=StratifiedKFold(inner_cv, shuffle=True, random_state=seed),
        refit=True, error_score="raise", return_train_score=False, random_state=seed)


def search_summary(search) -> dict:
    """What a record keeps of a fitted search: the choice and how it was reached."""
    return {
        "best_params": {k: _plain(v) for k, v in search.best_params_.items()},
        "inner_score": round(float(search.best_score_), 6),
        "candidates": int(search.n_candidates_[0]),
        "rounds": int(search.n_iterations_),
        "samples_per_round": [int(n) for n in search.n_resources_],
    }


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _params_text(params: dict) -> str:
    return ", ".join(f"{k.split('__')[-1]}={v}" for k, v in sorted(params.items()))


def tuning_table(df: pd.DataFrame, records) -> pd.DataFrame:
    """Default and tuned side by side: one row per (dataset, model) that has a tuned twin in
    ``df`` (the run's summary table), with the parameters chosen for the final fit and
    how often each choice won across the outer folds."""
    rows = []
    by_key = {(r.dataset, r.model): r for r in df.itertuples()}
    for (dataset, label), tuned in by_key.items():
        if not label.endswith(TUNED_SUFFIX):
            continue
        model = label[: -len(TUNED_SUFFIX)]
        default = by_key.get((dataset, model))
        mine = [r for r in records if r.dataset == dataset and r.model == label
                and r.status == "ok" and r.search is not None]
        final = next((r for r in mine if r.split.is_test), None)
        folds = [_params_text(r.search["best_params"]) for r in mine if not r.split.is_test]
        choices = pd.Series(folds).value_counts()
        rows.append({
            "dataset": dataset,
            "model": model,
            "default_cv": default.cv_accuracy_mean if default else np.nan,
            "tuned_cv": tuned.cv_accuracy_mean,
            "default_test": default.test_accuracy if default else np.nan,
            "tuned_test": tuned.test_accuracy,
            "test_gain_points": 100 * (tuned.test_accuracy - default.test_accuracy)
            if default else np.nan,
            "chosen_for_test": _params_text(final.search["best_params"]) if final else "",
            "chosen_in_folds": "; ".join(f"{p} ({n}/{len(folds)})" for p, n in choices.items()),
            "default_fit_seconds": default.fit_seconds if default else np.nan,
            "tuned_fit_seconds": tuned.fit_seconds,
        })
    return pd.DataFrame(rows)
