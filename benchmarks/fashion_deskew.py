"""Does deskewing help on clothes? The registry's hog-svm with and without its deskew step.

``hog-svm`` shears each image upright by its second moments before HOG, as LeCun et al. did
for handwritten digits, whose slant is noise. A garment's or shoe's orientation is part of
its shape (a sandal lies flat, a dress stands), so on Fashion-MNIST the step may remove
signal instead. This script scores both pipelines on the default preset's CV data for each
dataset (a stratified 10,000-image subsample of the training split, 3 stratified folds,
seed 0), never on the test split: the folds of both arms are the same, so the per-fold
differences are paired.

One line per (dataset, arm, fold) goes to ``results/bench/fashion_deskew.jsonl`` and the table
to ``fashion_deskew.md``. Run::

    python benchmarks/fashion_deskew.py [--datasets fashion-mnist mnist] [--render-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import RESULTS, append_jsonl, bench_page, cv_folds, machine, now, read_jsonl

OUT = RESULTS / "bench" / "fashion_deskew.jsonl"
ARMS = ("with deskew", "without deskew")


def pipeline(arm):
    from mnistbench.estimators.models import make_model

    model = make_model("hog-svm", random_state=0)
    if arm == "without deskew":
        model.set_params(deskew="passthrough")
    return model


def render():
    records = read_jsonl(OUT)
    if not records:
        return
    rows = []
    for run in sorted({r["run"] for r in records}):
        for dataset in sorted({r["dataset"] for r in records if r["run"] == run}):
            mine = [r for r in records if r["run"] == run and r["dataset"] == dataset]
            by_arm = {arm: {r["fold"]: r["accuracy"] for r in mine if r["arm"] == arm}
                      for arm in ARMS}
            folds = sorted(set(by_arm[ARMS[0]]) & set(by_arm[ARMS[1]]))
            diffs = [by_arm[ARMS[0]][k] - by_arm[ARMS[1]][k] for k in folds]
            rows.append({
                "run": run, "dataset": dataset, "folds": len(folds),
                **{f"CV accuracy {arm}": f"{100 * statistics.mean(by_arm[arm][k] for k in folds):.2f} %"
                   for arm in ARMS},
                "deskew minus none, per fold (points)": ", ".join(f"{100 * d:+.2f}" for d in diffs),
                "host": mine[0]["machine"]["host"],
            })
    page = bench_page(
        "Deskewing before HOG: digits against clothes", records,
        "python benchmarks/fashion_deskew.py",
        "The registry's hog-svm (deskew, HOG, PCA 200, RBF SVM) against the same pipeline "
        "with its deskew step set to passthrough, on each dataset's default-preset CV data "
        "(10,000 training images, 3 stratified folds, seed 0); the test split is not used.",
        rows)
    (OUT.parent / "fashion_deskew.md").write_text(page)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["fashion-mnist", "mnist"])
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        run, where = now(), machine()
        for dataset in args.datasets:
            X, y, folds = cv_folds(dataset)
            for fold, (train, val) in enumerate(folds, start=1):
                for arm in ARMS:
                    model = pipeline(arm)
                    start = time.perf_counter()
                    model.fit(X[train], y[train])
                    accuracy = float((model.predict(X[val]) == y[val]).mean())
                    append_jsonl(OUT, {"run": run, "dataset": dataset, "arm": arm,
                                       "fold": fold, "accuracy": accuracy,
                                       "seconds": round(time.perf_counter() - start, 2),
                                       "machine": where, "timestamp": now()})
                    print(f"{dataset} fold {fold} {arm}: {100 * accuracy:.2f} %",
                          file=sys.stderr)
    render()


if __name__ == "__main__":
    main()
