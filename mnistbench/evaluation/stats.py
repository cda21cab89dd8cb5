"""How much of a difference between two models is noise: intervals and paired tests.

Computed from records alone, never by refitting:

* test accuracy: a 95 % Wilson score interval (statsmodels' ``proportion_confint``);
* cross-validation accuracy: the mean with a 95 % interval from Nadeau & Bengio's
  (2003) corrected variance, ``(1/J + n_test/n_train) * s^2`` over the ``J`` folds: the
  folds share training images, so the plain ``s^2 / J`` is far too optimistic;
* two models on the same test split: McNemar's exact test on the images exactly one
  of them gets right (Dietterich 1998; statsmodels' ``mcnemar(exact=True)``);
* two models on the same CV folds: the corrected resampled t-test on the paired fold
  differences (Nadeau & Bengio 2003), with ``J - 1`` degrees of freedom;
* across all pairs of a dataset: Holm's correction (statsmodels' ``multipletests``).

``groups`` turns the adjusted p-values into a compact letter display: models that
share a letter cannot be told apart at the 5 % level.
"""

from __future__ import annotations

import base64
import math
from itertools import combinations

import numpy as np

__all__ = ["ALPHA", "corrected_cv_interval", "corrected_ttest", "decode_predictions",
           "encode_predictions", "groups", "holm", "mcnemar_exact", "pairwise_tests",
           "wilson_interval"]

ALPHA = 0.05


# --------------------------------------------------------------------------- storage
def encode_predictions(y_true, y_pred) -> dict:
    """Test predictions, compactly, for a record: the predicted class of each test image
    as one byte (an index into ``classes``, base64) and which ones were right (bits)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(np.concatenate([y_true, y_pred]))
    index = np.searchsorted(classes, y_pred)
    dtype = np.uint8 if len(classes) <= 256 else np.uint16
    return {
        "classes": classes.tolist(),
        "dtype": np.dtype(dtype).str,
        "predicted": base64.b64encode(index.astype(dtype).tobytes()).decode("ascii"),
        "correct": base64.b64encode(np.packbits(y_true == y_pred).tobytes()).decode("ascii"),
        "n": int(len(y_true)),
    }


def decode_predictions(stored: dict):
    """``(predicted labels, correct as bool array)`` from :func:`encode_predictions`."""
    n = stored["n"]
    index = np.frombuffer(base64.b64decode(stored["predicted"]), dtype=np.dtype(stored["dtype"]))
    predicted = np.asarray(stored["classes"])[index]
    correct = np.unpackbits(np.frombuffer(base64.b64decode(stored["correct"]), np.uint8))[:n]
    return predicted, correct.astype(bool)


# --------------------------------------------------------------------------- intervals
def wilson_interval(correct: int, n: int, alpha=ALPHA):
    """95 % Wilson score interval of an accuracy of ``correct`` out of ``n``."""
    from statsmodels.stats.proportion import proportion_confint  # noqa: PLC0415 - loaded lazily, only when used

    low, high = proportion_confint(correct, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def _corrected_se(values, n_train, n_test):
    values = np.asarray(values, dtype=np.float64)
    j = len(values)
    return math.sqrt((1.0 / j + n_test / n_train) * np.var(values, ddof=1))


def corrected_cv_interval(fold_scores, n_train, n_test, alpha=ALPHA):
    """Mean of ``fold_scores`` with Nadeau & Bengio's corrected (1 - alpha) interval.

    ``n_train`` and ``n_test`` are the sizes of one fold's training and validation
    parts. Needs at least two folds (else the interval is NaN).
    """
    from scipy import stats  # noqa: PLC0415 - loaded lazily, only when used

    scores = np.asarray(fold_scores, dtype=np.float64)
    mean = float(scores.mean())
    if len(scores) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(1 - alpha / 2, len(scores) - 1) * _corrected_se(scores, n_train, n_test)
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------- paired tests
def corrected_ttest(scores_a, scores_b, n_train, n_test):
    """Two-sided p-value of the corrected resampled t-test on paired fold scores."""
    from scipy import stats  # noqa: PLC0415 - loaded lazily, only when used

    diff = np.asarray(scores_a, dtype=np.float64) - np.asarray(scores_b, dtype=np.float64)
    j = len(diff)
    if j < 2:
        return math.nan
    se = _corrected_se(diff, n_train, n_test)
    if se == 0:
        return 1.0 if diff.mean() == 0 else 0.0
    t = diff.mean() / se
    return float(2 * stats.t.sf(abs(t), j - 1))


def mcnemar_exact(correct_a, correct_b):
    """McNemar's exact test on paired correctness: ``(p-value, a only right, b only right)``."""
    from statsmodels.stats.contingency_tables import mcnemar  # noqa: PLC0415 - loaded lazily, only when used

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    table = [[int(np.sum(a & b)), only_a], [only_b, int(np.sum(~a & ~b))]]
    return float(mcnemar(table, exact=True).pvalue), only_a, only_b


def holm(pvalues):
    """Holm-adjusted p-values (NaN stays NaN)."""
    from statsmodels.stats.multitest import multipletests  # noqa: PLC0415 - loaded lazily, only when used

    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def pairwise_tests(models):
    """All pairs of one dataset's models, tested on the test split and on the CV folds.

    ``models`` maps a name to ``{"correct": bool array or None, "folds": {fold: score},
    "fold_sizes": (n_train, n_test) or None}``. Returns a list of dicts with both tests'
    raw and Holm-adjusted p-values (NaN where a test cannot be made: predictions not
    recorded, or folds not shared).
    """
    rows = []
    for a, b in combinations(models, 2):
        ma, mb = models[a], models[b]
        row = {"model_a": a, "model_b": b, "mcnemar_p": math.nan, "a_only_right": None,
               "b_only_right": None, "ttest_p": math.nan}
        if ma["correct"] is not None and mb["correct"] is not None \
                and len(ma["correct"]) == len(mb["correct"]):
            row["mcnemar_p"], row["a_only_right"], row["b_only_right"] = mcnemar_exact(
                ma["correct"], mb["correct"])
        shared = sorted(set(ma["folds"]) & set(mb["folds"]))
        if len(shared) >= 2 and ma["fold_sizes"]:
            row["ttest_p"] = corrected_ttest([ma["folds"][f] for f in shared],
                                             [mb["folds"][f] for f in shared], *ma["fold_sizes"])
        rows.append(row)
    for key in ("mcnemar_p", "ttest_p"):
        for row, adjusted in zip(rows, holm([r[key] for r in rows]), strict=True):
            row[key + "_holm"] = float(adjusted)
    return rows


def groups(ranked, pvalue, alpha=ALPHA):
    """Compact letter display for models ranked best first.

    ``pvalue(a, b)`` gives the adjusted p-value of a pair (NaN: not tested, counted as
    "cannot be told apart"). Each letter covers a maximal run of consecutive models whose
    pairs are all at p >= alpha. Returns ``{model: letters}``.
    """
    def same(a, b):
        p = pvalue(a, b)
        return not (p < alpha)  # NaN -> not significantly different

    runs = []
    for i in range(len(ranked)):
        j = i
        while j + 1 < len(ranked) and all(same(ranked[k], ranked[j + 1]) for k in range(i, j + 1)):
            j += 1
        if not runs or j > runs[-1][1]:
            runs.append((i, j))
    letters = {m: "" for m in ranked}
    for n, (i, j) in enumerate(runs):
        for m in ranked[i:j + 1]:
            letters[m] += chr(ord("a") + n) if n < 26 else "?"
    return letters
