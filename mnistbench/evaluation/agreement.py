"""Do two runs give the same answers? Row by row, on the same test images.

Run A (a reference: the shipped results, another CPU, float32) against run B (yours: a
laptop with bfloat16, a GPU, a newer version). For every (dataset, model) both hold, on
the same test split (checked by the fingerprint each test record carries of the images
and labels it scored, or for the registered datasets, whose splits are verified on load,
by their name and size):

* test accuracy of each, the test images right only in A and only in B, McNemar's exact
  p on that paired correctness and its Holm correction over the rows compared;
* both CV means, and whether B's lies inside A's corrected 95 % interval (Nadeau &
  Bengio);
* fit and predict time ratios (B over A), the hosts, devices and precisions, and the
  library versions that differ;
* a verdict: the same answers when the Holm-corrected McNemar p is at least
  :data:`ALPHA` and B's CV mean lies inside A's interval (rows without CV: the test alone).
"""

from __future__ import annotations

import math

import numpy as np

from mnistbench.errors import UsageError
from mnistbench.evaluation.records import as_records
from mnistbench.evaluation.stats import (
    corrected_cv_interval,
    decode_predictions,
    holm,
    mcnemar_exact,
)

__all__ = ["ALPHA", "REGISTERED_TEST_SETS", "compare_records", "summary_line"]

ALPHA = 0.05
#: Datasets whose test split is verified against its checksum whenever it is loaded:
#: the same name and size is the same test images, for records made before they carried
#: a test-set fingerprint.
REGISTERED_TEST_SETS = ("mnist", "digits", "fashion-mnist")


def _rows(records) -> dict:
    rows = {}
    for r in as_records(records):
        if r.split.is_curve:
            continue
        row = rows.setdefault((r.dataset, r.model), {"test": None, "folds": [], "failed": []})
        if not r.ok:
            row["failed"].append(f"{r.split} {r.status}")
        elif r.split.is_test:
            row["test"] = r
        else:
            row["folds"].append(r)
    return rows


def _test_set(record):
    """What identifies the test images a test record scored, or None when unknown."""
    if record.test_set:
        return record.test_set
    return f"{record.dataset}:{record.n_test}" if record.dataset in REGISTERED_TEST_SETS else None


def _same_test_set(a, b) -> bool:
    """Two test records of one dataset scored the same images: their fingerprints agree,
    or (a record made before they had one) a registered dataset's split of one size."""
    if a.test_set and b.test_set:
        return a.test_set == b.test_set
    return a.dataset in REGISTERED_TEST_SETS and a.n_test == b.n_test


def _why_not(row) -> str | None:
    """Why a row cannot be compared, or None."""
    if row["failed"]:
        return "failed units: " + ", ".join(row["failed"][:3])
    if row["test"] is None:
        return "no test record"
    if not row["test"].predictions:
        return "its test record predates stored predictions"
    return None


def compare_records(records_a, records_b) -> dict:
    """The comparison of run A's records with run B's (see the module docstring).

    Returns ``{"rows_compared", "same_rows", "rows": [...], "only_a", "only_b",
    "not_compared", "fit_time_ratio", "fit_time_ratio_deep", "fit_time_ratio_classic"}``.
    Raises :class:`UsageError` when no row is in both, or when a row's test images differ.
    """
    rows_a, rows_b = _rows(records_a), _rows(records_b)
    common = sorted(set(rows_a) & set(rows_b))
    if not common:
        raise UsageError("the two runs have no (dataset, model) row in common; compare runs "
                         "of the same datasets and models")
    not_compared, pairs = [], []
    for key in common:
        why = [f"{side}: {why}" for side, why in (("A", _why_not(rows_a[key])),
                                                   ("B", _why_not(rows_b[key]))) if why]
        if why:
            not_compared.append({"dataset": key[0], "model": key[1], "why": "; ".join(why)})
        else:
            pairs.append(key)
    for dataset, model in pairs:
        a, b = rows_a[(dataset, model)]["test"], rows_b[(dataset, model)]["test"]
        if not _same_test_set(a, b):
            raise UsageError(
                f"the runs scored different test images on {dataset} ({model}: A "
                f"{_test_set(a) or 'unknown'}, {a.n_test} images; B {_test_set(b) or 'unknown'}"
                f", {b.n_test} images); compare runs on the same test split")
    rows = [_row(k, rows_a[k], rows_b[k]) for k in pairs]
    for row, p in zip(rows, holm([r["mcnemar_p"] for r in rows]), strict=True):
        row["mcnemar_p_holm"] = float(p)
        _verdict(row)
    return {
        "rows_compared": len(rows),
        "same_rows": sum(r["same"] for r in rows),
        "rows": rows,
        "only_a": [list(k) for k in sorted(set(rows_a) - set(rows_b))],
        "only_b": [list(k) for k in sorted(set(rows_b) - set(rows_a))],
        "not_compared": not_compared,
        **_time_ratios(rows),
    }


def _row(key, ra, rb) -> dict:
    a, b = ra["test"], rb["test"]
    _, right_a = decode_predictions(a.predictions)
    _, right_b = decode_predictions(b.predictions)
    p, only_a, only_b = mcnemar_exact(right_a, right_b)
    cv_a = [r.accuracy for r in ra["folds"]]
    cv_b = [r.accuracy for r in rb["folds"]]
    low = high = mean_a = math.nan
    if len(cv_a) >= 2:
        mean_a, low, high = corrected_cv_interval(
            cv_a, np.mean([r.n_train for r in ra["folds"]]),
            np.mean([r.n_test for r in ra["folds"]]))
        low, high = max(0.0, low), min(1.0, high)  # an accuracy's interval, as the tables
    mean_b = float(np.mean(cv_b)) if cv_b else math.nan
    inside = None if math.isnan(low) or not cv_b else bool(low <= mean_b <= high)
    fit = [sum(r.fit_seconds or 0.0 for r in [row["test"], *row["folds"]]) for row in (ra, rb)]
    versions = {k: [(a.versions or {}).get(k), (b.versions or {}).get(k)]
                for k in sorted(set(a.versions or {}) | set(b.versions or {}))}
    return {
        "dataset": key[0], "model": key[1], "family": a.family or b.family or _family(key[1]),
        "accuracy_a": a.accuracy, "accuracy_b": b.accuracy, "n_test": a.n_test,
        "only_a": only_a, "only_b": only_b, "mcnemar_p": p,
        "cv_mean_a": None if math.isnan(mean_a) else mean_a,
        "cv_low_a": None if math.isnan(low) else low,
        "cv_high_a": None if math.isnan(high) else high,
        "cv_mean_b": None if math.isnan(mean_b) else mean_b, "cv_inside": inside,
        "fit_seconds_a": fit[0], "fit_seconds_b": fit[1],
        "fit_time_ratio": fit[1] / fit[0] if fit[0] else None,
        "predict_time_ratio": (b.predict_seconds / a.predict_seconds
                               if a.predict_seconds and b.predict_seconds else None),
        "host_a": a.host, "host_b": b.host, "device_a": a.device, "device_b": b.device,
        "preset_a": a.preset, "preset_b": b.preset,
        "versions_differ": {k: v for k, v in versions.items() if v[0] != v[1]},
    }


def _family(model) -> str:
    from mnistbench.estimators.models import is_deep_name  # noqa: PLC0415 - light import

    return "deep" if is_deep_name(model) else "classic"


def _verdict(row) -> None:
    reasons = []
    if row["mcnemar_p_holm"] < ALPHA:
        reasons.append(f"McNemar p (Holm) {row['mcnemar_p_holm']:.2g} < {ALPHA}: "
                       f"{row['only_a']} test images right only in A, {row['only_b']} only in B")
    if row["cv_inside"] is False:
        reasons.append(f"B's CV mean {100 * row['cv_mean_b']:.2f} % outside A's 95 % interval "
                       f"[{100 * row['cv_low_a']:.2f}, {100 * row['cv_high_a']:.2f}]")
    row["same"] = not reasons
    row["why"] = "; ".join(reasons) if reasons else (
        "the test predictions and the CV agree" if row["cv_inside"] is not None else
        "the test predictions agree (no CV to compare)")


def _time_ratios(rows) -> dict:
    def ratio(part):
        a = sum(r["fit_seconds_a"] for r in part)
        return sum(r["fit_seconds_b"] for r in part) / a if part and a else None

    return {"fit_time_ratio": ratio(rows),
            "fit_time_ratio_deep": ratio([r for r in rows if r["family"] == "deep"]),
            "fit_time_ratio_classic": ratio([r for r in rows if r["family"] != "deep"])}


def summary_line(result) -> str:
    """"N of M rows give the same answers; B's fits took X times A's (CNNs Y, classic
    models Z)"."""
    def times(x):
        return "n/a" if x is None else f"{x:.2f}"

    return (f"{result['same_rows']} of {result['rows_compared']} rows give the same answers; "
            f"B's fits took {times(result['fit_time_ratio'])} times A's (CNNs "
            f"{times(result['fit_time_ratio_deep'])}, classic models "
            f"{times(result['fit_time_ratio_classic'])})")
