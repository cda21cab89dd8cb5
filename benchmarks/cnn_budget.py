"""CNN budget at every data size: the default CNNs against the old epoch-only budget.

The CNN's budget was once 10 epochs at batch 128 (6 under run-all's default preset),
sized for 60,000 images; on digits' 1,347 that is 66-110 optimizer steps and the nets end
unconverged. ``KerasCNNClassifier`` now picks ``batch_size="auto"`` and makes at least
``min_steps`` optimizer steps. For each architecture this measures, side by side in one
run and on one machine:

* digits, the fixed 1,347 / 450 split: test accuracy, 3-fold stratified CV mean on the
  training split, fit seconds, and the batch / epochs / steps used; for the registry
  defaults ("now") and the old budget ("before": batch 128, 10 epochs, min_steps=0);
* with ``--mnist``: the 3-fold CV of run-all's default preset (a stratified 10,000-image
  subsample of MNIST's training split, seed 0; CNNs ``epochs=6``), "now" and "before"
  (batch 128, min_steps=0), with the final training and validation accuracy of each fold.

Targets: digits >= 98.5 % test and >= 98 % CV, fit <= 60 s on 2 cores; MNIST
CV >= 98.0 %. Results: ``results/bench/cnn_budget.{jsonl,md}``. Run::

    python benchmarks/cnn_budget.py [--mnist] [--render-only]
"""

from __future__ import annotations

import argparse
import time

from _common import (
    RESULTS,
    append_jsonl,
    bench_page,
    machine,
    mnist_cv_folds,
    now,
    read_jsonl,
)

OUT = RESULTS / "bench" / "cnn_budget.jsonl"
ARCHS = ("baseline", "batchnorm", "deep")
BUDGETS = {"now": {}, "before": {"batch_size": 128, "min_steps": 0},
           # candidates for small data, measured before any becomes a default
           "now+augment": {"augment": True}, "now+dropout0.5": {"dropout": 0.5},
           "steps5000+augment": {"min_steps": 5000, "augment": True},
           "steps10000+augment": {"min_steps": 10000, "augment": True},
           "batch64": {"batch_size": 64}, "lr0.003": {"learning_rate": 0.003}}
DEFAULT_BUDGETS = ("now", "before")


def _fit(arch, params, X, y, X_val, y_val):
    from mnistbench.estimators.cnn import KerasCNNClassifier

    est = KerasCNNClassifier(arch, random_state=0, **params)
    t0 = time.perf_counter()
    est.fit(X, y, validation_data=(X_val, y_val))
    seconds = time.perf_counter() - t0
    return est, seconds, est.score(X_val, y_val)


def _budget(est):
    return {"batch_size": est.batch_size_, "epochs": est.epochs_,
            "steps": est.epochs_ * est._epoch_steps}


def run_digits(info, budgets, archs):
    from sklearn.model_selection import StratifiedKFold

    from mnistbench.data.datasets import load_digits_dataset

    d = load_digits_dataset()
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(*d.train))
    for arch in archs:
        for budget in budgets:
            params = dict(BUDGETS[budget], **({"epochs": 10} if budget == "before" else {}))
            est, seconds, test = _fit(arch, params, *d.train, *d.test)
            cv = [_fit(arch, params, d.X_train[tr], d.y_train[tr], d.X_train[va],
                       d.y_train[va])[2] for tr, va in folds]
            record = dict(dataset="digits", arch=arch, budget=budget, params=params,
                          test_accuracy=test, cv=cv, cv_mean=sum(cv) / len(cv),
                          fit_seconds=round(seconds, 2), train_accuracy=est.history_[
                              "accuracy"][-1], **_budget(est), machine=info, when=now())
            append_jsonl(OUT, record)
            print(f"digits {arch} {budget}: test {test:.4f} cv {record['cv_mean']:.4f} "
                  f"fit {seconds:.1f} s", flush=True)


def run_mnist(info, budgets, archs):
    X, y, folds = mnist_cv_folds()
    for arch in archs:
        for budget in budgets:
            params = dict(BUDGETS[budget], epochs=6)  # run-all's default preset
            rows = []
            for tr, va in folds:
                est, seconds, acc = _fit(arch, params, X[tr], y[tr], X[va], y[va])
                rows.append(dict(accuracy=acc, seconds=seconds,
                                 train_accuracy=est.history_["accuracy"][-1],
                                 val_accuracy=est.history_["val_accuracy"][-1]))
            cv = [r["accuracy"] for r in rows]
            record = dict(dataset="mnist-10k-cv", arch=arch, budget=budget, params=params,
                          cv=cv, cv_mean=sum(cv) / len(cv), folds=rows,
                          fit_seconds=round(sum(r["seconds"] for r in rows) / len(rows), 2),
                          **_budget(est), machine=info, when=now())
            append_jsonl(OUT, record)
            print(f"mnist {arch} {budget}: cv {record['cv_mean']:.4f} "
                  f"fit {record['fit_seconds']:.1f} s/fold", flush=True)


def render():
    latest = {}
    for r in read_jsonl(OUT):
        latest[(r["dataset"], r["arch"], r["budget"])] = r
    if not latest:
        return
    rows = []
    for r in latest.values():
        gap = ("" if "folds" not in r else
               f"{100 * max(f['train_accuracy'] - f['val_accuracy'] for f in r['folds']):.2f}")
        rows.append({
            "data": r["dataset"], "CNN": r["arch"], "budget": r["budget"],
            "batch": str(r["batch_size"]), "epochs": str(r["epochs"]), "steps": str(r["steps"]),
            "test %": f"{100 * r['test_accuracy']:.2f}" if "test_accuracy" in r else "",
            "3-fold CV %": f"{100 * r['cv_mean']:.2f}",
            "folds %": " / ".join(f"{100 * a:.2f}" for a in r["cv"]),
            "max train-val gap (pts)": gap,
            "fit s": f"{r['fit_seconds']:.1f}" + (" per fold" if "folds" in r else ""),
        })
    text = bench_page(
        "CNN budget at every data size", latest.values(),
        "python benchmarks/cnn_budget.py [--mnist]",
        "\"now\" is the registry default (batch_size=\"auto\", min_steps=2500), "
        "\"before\" the old budget (batch 128, min_steps=0). digits: 10 epochs (the "
        "estimator's default), the fixed 1,347 / 450 split, CV on its training split. "
        "mnist-10k-cv: run-all's default preset (epochs=6) on its 10,000-image CV subsample; "
        "the gap is training minus validation accuracy at the last epoch, worst fold. "
        "The other budgets are candidates for small data, measured with `--budgets`: the "
        "defaults with augment=True (shift 5 %, rotation 10 deg, zoom 5 %), dropout 0.5 "
        "instead of 0.25, 5,000 or 10,000 steps with augmentation, batch 64, or learning rate "
        "0.003. "
        "Seed 0 everywhere.", rows)
    (RESULTS / "bench" / "cnn_budget.md").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", action="store_true", help="also MNIST's 10,000-image CV")
    parser.add_argument("--no-digits", action="store_true", help="skip digits")
    parser.add_argument("--budgets", nargs="+", choices=list(BUDGETS),
                        default=list(DEFAULT_BUDGETS), help="budgets to run (default: %(default)s)")
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--render-only", action="store_true",
                        help="re-write the Markdown from the stored JSON lines")
    args = parser.parse_args()
    if not args.render_only:
        info = machine()
        if not args.no_digits:
            run_digits(info, args.budgets, args.archs)
        if args.mnist:
            run_mnist(info, args.budgets, args.archs)
    render()


if __name__ == "__main__":
    main()
