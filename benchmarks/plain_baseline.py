"""mnistbench vs a plain script (the LazyPredict way) on the same data and models.

The plain script does what a notebook or LazyPredict does: for each model, fit and
score the 3 CV folds and the final fit one after another, in this one process,
with every library at its default threading. mnistbench runs the very same units
(same folds, subsamples, seeds and estimators; ``_common.scaling_preset``) with
``run_benchmark`` at 1 and 2 worker processes. The ratio plain / mnistbench > 1
means mnistbench is faster; at 1 worker it measures the harness's overhead
(process start, records, tables). Accuracies must agree exactly. Writes
``results/bench/plain_baseline.json``. Run::

    python benchmarks/run.py plain_baseline
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import CLASSIC_MODELS, machine, now, scaling_preset, timed_scaling_run, write_json


def plain_script(preset, seed=0):
    """The straightforward loop a user would write (sklearn only, no harness)."""
    import numpy as np
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from mnistbench import load_dataset
    from mnistbench.estimators.models import make_model

    ds = load_dataset("mnist")
    X_cv, _, y_cv, _ = train_test_split(ds.X_train, ds.y_train, train_size=preset.cv_subsample,
                                        stratify=ds.y_train, random_state=seed)
    X_tr, _, y_tr, _ = train_test_split(ds.X_train, ds.y_train,
                                        train_size=preset.train_subsample,
                                        stratify=ds.y_train, random_state=seed)
    folds = list(StratifiedKFold(preset.cv, shuffle=True, random_state=seed).split(X_cv, y_cv))
    out = {}
    for name in CLASSIC_MODELS:
        params = preset.model_params.get(name, {})
        cv = []
        for tr, va in folds:
            est = make_model(name, random_state=seed).set_params(**params)
            cv.append(accuracy_score(y_cv[va], est.fit(X_cv[tr], y_cv[tr]).predict(X_cv[va])))
        est = make_model(name, random_state=seed).set_params(**params)
        test = accuracy_score(ds.y_test, est.fit(X_tr, y_tr).predict(ds.X_test))
        out[name] = {"cv_accuracy_mean": float(np.mean(cv)), "test_accuracy": float(test)}
    return out


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help only
    from mnistbench import load_dataset

    load_dataset("mnist")
    preset = scaling_preset()
    t0 = time.perf_counter()
    plain = plain_script(preset)
    plain_s = time.perf_counter() - t0
    print(f"plain script: {plain_s:.1f} s", file=sys.stderr, flush=True)
    rows = []
    for workers in (1, 2):
        df, wall, _ = timed_scaling_run(n_jobs=workers, figures=True)
        same = all(abs(row.test_accuracy - plain[row.model]["test_accuracy"]) < 1e-12 and
                   abs(row.cv_accuracy_mean - plain[row.model]["cv_accuracy_mean"]) < 1e-12
                   for row in df.itertuples())
        rows.append({"workers": workers, "wall_seconds": round(wall, 1),
                     "ratio_plain_over_mnistbench": round(plain_s / wall, 2),
                     "same_accuracies_as_plain": same})
        print(rows[-1], file=sys.stderr, flush=True)
    record = {
        "benchmark": "plain_baseline",
        "workload": preset.description + f"; models {', '.join(CLASSIC_MODELS)}",
        "plain_script_seconds": round(plain_s, 1),
        "plain_accuracies": plain,
        "mnistbench": rows,
        "note": "mnistbench's wall time includes writing records, tables and figures",
        "machine": machine(),
        "timestamp": now(),
    }
    write_json("plain_baseline", record)
