"""XGBoost's histogram size on MNIST pixels: fit time and accuracy per ``max_bin``.

run-all's default preset trains XGBoost (100 rounds, depth 6, eta 0.3) on raw pixels on one
thread per worker. Each histogram bin is a candidate split for every feature at every
node, so on 784 pixel features split finding grows with ``max_bin``. This script fits the
registry's ``xgboost`` pipeline with the preset's parameters on each of the default preset's
three CV folds (6,667 of the 10,000-image subsample, seed 0), once per ``max_bin``, the
settings alternating within each fold so that machine noise falls on all of them alike, on
one thread, and scores each fit on the fold's held-out third (never the test split).

One line per (fold, max_bin) goes to ``results/bench/xgboost_bins.jsonl`` and the table,
with the fit time relative to ``max_bin=256`` (XGBoost's default) fold by fold, to
``xgboost_bins.md``. Run::

    python benchmarks/xgboost_bins.py [--bins 256 64 32] [--render-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
from _common import RESULTS, append_jsonl, bench_page, machine, mnist_cv_folds, now, read_jsonl

OUT = RESULTS / "bench" / "xgboost_bins.jsonl"
ROUNDS = 100  # the default preset's xgboost__n_estimators


def fit_once(X, y, train, val, max_bin):
    import numpy as np

    from mnistbench.estimators.models import make_model

    model = make_model("xgboost", random_state=0, n_jobs=1)
    model.set_params(xgboost__n_estimators=ROUNDS, xgboost__max_bin=max_bin,
                     xgboost__device="cpu")
    start = time.perf_counter()
    model.fit(X[train], y[train])
    fit_seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(X[val]) == y[val]))
    return fit_seconds, accuracy


def render():
    records = read_jsonl(OUT)
    if not records:
        return
    rows = []
    for run in sorted({r["run"] for r in records}):
        mine = [r for r in records if r["run"] == run]
        reference = {r["fold"]: r["fit_seconds"] for r in mine if r["max_bin"] == 256}
        for max_bin in sorted({r["max_bin"] for r in mine}, reverse=True):
            these = [r for r in mine if r["max_bin"] == max_bin]
            ratios = [r["fit_seconds"] / reference[r["fold"]] for r in these
                      if r["fold"] in reference]
            rows.append({
                "run": run,
                "max_bin": max_bin,
                "folds": len(these),
                "fit s (mean)": f"{statistics.mean(r['fit_seconds'] for r in these):.1f}",
                "vs max_bin 256": f"{statistics.mean(ratios):.2f}x" if ratios else "",
                "CV accuracy": f"{100 * statistics.mean(r['accuracy'] for r in these):.2f} %",
                "host": these[0]["machine"]["host"],
            })
    page = bench_page(
        "XGBoost: fit time and accuracy per max_bin", records,
        "python benchmarks/xgboost_bins.py",
        f"The registry's xgboost pipeline with the default preset's {ROUNDS} rounds on the "
        "preset's three 6,667-image MNIST CV folds (seed 0), one thread, the settings "
        "alternating within each fold; accuracy on each fold's held-out third. The ratio is "
        "taken fold by fold against max_bin=256 of the same run, then averaged.", rows)
    (OUT.parent / "xgboost_bins.md").write_text(page)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", nargs="*", type=int, default=[256, 64, 32])
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        X, y, folds = mnist_cv_folds()
        X = X.reshape(len(X), -1)
        run, where = now(), machine()
        for fold, (train, val) in enumerate(folds, start=1):
            order = args.bins if fold % 2 else args.bins[::-1]
            for max_bin in order:
                fit_seconds, accuracy = fit_once(X, y, train, val, max_bin)
                append_jsonl(OUT, {"run": run, "fold": fold, "max_bin": max_bin,
                                   "rounds": ROUNDS, "threads": 1,
                                   "fit_seconds": round(fit_seconds, 2),
                                   "accuracy": accuracy, "machine": where,
                                   "timestamp": now()})
                print(f"fold {fold} max_bin {max_bin}: {fit_seconds:.1f} s, "
                      f"{100 * accuracy:.2f} %", file=sys.stderr)
    render()


if __name__ == "__main__":
    main()
