"""Every registered model: fit/predict time and test accuracy on MNIST and digits.

Trains each registry model (its defaults, seed 0) on the full training split and
scores the held-out test split. Each finished (dataset, model) is appended to
``results/bench/models.jsonl`` at once; ``results/bench/models.md`` is re-rendered from all
records with the targets of the model-zoo issue. Run::

    python benchmarks/run.py models [--models NAME ...] [--datasets mnist digits]
"""

from __future__ import annotations

import argparse
import time

from _common import BENCH, append_jsonl, machine, markdown_table, now, read_jsonl, write_page

OUT = BENCH / "models.jsonl"
TARGETS = {"logreg": 0.92, "random-forest": 0.97, "svc": 0.983, "xgboost": 0.978, "hog-svm": 0.99,
           "cnn-deep": 0.993}


def run(dataset, name, seed):
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from mnistbench import load_dataset
    from mnistbench.estimators.models import make_model

    ds = load_dataset(dataset)
    est = make_model(name, random_state=seed)
    t0 = time.perf_counter()
    est.fit(ds.X_train, ds.y_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = est.predict(ds.X_test)
    predict_s = time.perf_counter() - t0
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    record = {
        "dataset": dataset,
        "model": name,
        "test_accuracy": float(accuracy_score(ds.y_test, pred)),
        "macro_f1": float(f1_score(ds.y_test, pred, average="macro")),
        "fit_seconds": round(fit_s, 2),
        "predict_seconds": round(predict_s, 3),
        "n_train": int(len(ds.X_train)),
        "n_test": int(len(ds.X_test)),
        "device": getattr(final, "device_", "cpu"),
        "seed": seed,
        "machine": machine(),
        "timestamp": now(),
    }
    append_jsonl(OUT, record)
    print(f"{dataset}/{name}: accuracy {record['test_accuracy']:.4f} fit {fit_s:.1f}s "
          f"predict {predict_s:.2f}s", flush=True)
    del np


def render():
    latest = {}
    for r in read_jsonl(OUT):  # the newest record of each (dataset, model) wins
        latest[(r["dataset"], r["model"])] = r
    lines = [
        "# Model zoo: test accuracy and time (train on the full training split)",
        "",
        "Written by `benchmarks/models.py` from `models.jsonl` (newest run per row).",
        "",
    ]
    rows = []
    for (dataset, name), r in sorted(latest.items(), key=lambda kv: (kv[0][0], -kv[1]["test_accuracy"])):
        target = TARGETS.get(name) if dataset == "mnist" else None
        mark = "" if target is None else (f">= {target:.1%} " + ("met" if r["test_accuracy"] >= target else "MISSED"))
        m = r["machine"]
        rows.append({
            "dataset": dataset, "model": name, "test accuracy": f"{r['test_accuracy']:.2%}",
            "target (MNIST)": mark, "macro F1": f"{r['macro_f1']:.4f}",
            "fit s": f"{r['fit_seconds']:.2f}", "predict s": f"{r['predict_seconds']:.2f}",
            "device": r["device"],
            "machine": m.get("host") or str(m.get("cpu_count")) + " x " + m.get("host_cpu", "?"),
        })
    write_page("models", "\n".join(lines) + "\n" + markdown_table(rows) + "\n")


def main():
    from mnistbench.estimators.models import MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", choices=sorted(MODELS))
    parser.add_argument("--datasets", nargs="*", default=["digits", "mnist"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        for dataset in args.datasets:
            for name in args.models or MODELS:
                run(dataset, name, args.seed)
                render()
    render()
