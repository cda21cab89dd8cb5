"""MNIST test accuracy of KerasCNNClassifier per architecture (issue: CNN targets).

Trains on the full 60,000 training images and scores the 10,000 test images, for

* the tutorial's own settings ("How to Develop a CNN for MNIST..."): SGD lr 0.01
  momentum 0.9, batch 32, 10 epochs, 'valid' padding, no dropout, constant rate;
* our defaults as these rows were recorded (``KerasCNNClassifier()`` with
  ``CNN_DEFAULTS_AS_RECORDED``: Adam 1e-3 with cosine decay, batch 128, 10 epochs,
  dropout 0.25, 'same' padding, precision "auto": mixed bfloat16 on a CPU with native
  bfloat16, float32 elsewhere and in records made before the
  parameter existed), without and with ``augment=True``
  (15, 20 and 30 epochs: augmentation needs longer training). The table names
  the augmentation policy of each run (it changed once, see cnn.AUGMENTATION).

Each finished configuration is appended to ``results/cnn_accuracy.jsonl`` at once;
``results/cnn_accuracy.md`` is re-rendered from all records. Run::

    python benchmarks/cnn_accuracy.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import time

from _common import CNN_DEFAULTS_AS_RECORDED, RESULTS, append_jsonl, machine, markdown_table, now, read_jsonl

TUTORIAL = dict(optimizer="sgd", learning_rate=0.01, momentum=0.9, batch_size=32, epochs=10,
                padding="valid", dropout=0.0, lr_schedule="constant")
CONFIGS = {
    "deep-defaults": dict(architecture="deep"),
    "deep-defaults-augment-15ep": dict(architecture="deep", augment=True, epochs=15),
    "deep-defaults-augment-30ep": dict(architecture="deep", augment=True, epochs=30),
    "deep-defaults-augment-20ep": dict(architecture="deep", augment=True, epochs=20),
    # candidates for faster defaults (16 filters: see results/bench/cnn_time_to_99.md)
    "deep-f16-lr2e-3": dict(architecture="deep", filters=16, learning_rate=2e-3),
    "deep-f16-lr2e-3-augment-20ep": dict(architecture="deep", filters=16, learning_rate=2e-3,
                                         augment=True, epochs=20),
    "deep-wide-augment-20ep": dict(architecture="deep", augment=True, epochs=20, filters=48,
                                   dense_units=128),
    "baseline-tutorial": dict(architecture="baseline", **TUTORIAL),
    "batchnorm-tutorial": dict(architecture="batchnorm", **TUTORIAL),
    "deep-tutorial": dict(architecture="deep", **TUTORIAL),
}
TUTORIAL_REPORTED = {  # the tutorial's own figures, for comparison (5-fold CV / test)
    "baseline-tutorial": "98.68 % (5-fold CV)",
    "batchnorm-tutorial": "98.64 % (5-fold CV)",
    "deep-tutorial": "99.06 % (5-fold CV), 99.09 % test",
}
OUT = RESULTS / "cnn_accuracy.jsonl"
#: augment=True policy of the records made before it was recorded in each run
#: (mnistbench 0.1.0 up to commit 01c083e): shift 10 %, rotation 10 deg, zoom 10 %.
FIRST_AUGMENTATION = {"shift": 0.1, "rotation_degrees": 10.0, "zoom": 0.1}


def _augmentation(record):
    if not record["params"].get("augment"):
        return "no"
    a = record.get("augmentation") or FIRST_AUGMENTATION
    return (f"shift {a['shift']:.0%}, rotation {a['rotation_degrees']:g} deg, "
            f"zoom {a['zoom']:.0%}")


def run(name, seed):
    from mnistbench import load_dataset
    from mnistbench.estimators.cnn import AUGMENTATION, KerasCNNClassifier

    ds = load_dataset("mnist")
    # the budget the recorded rows were made with; a config's own settings win
    clf = KerasCNNClassifier(**{**CNN_DEFAULTS_AS_RECORDED, **CONFIGS[name]}, random_state=seed,
                             verbose=2)
    t0 = time.perf_counter()
    clf.fit(ds.X_train, ds.y_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = clf.score(ds.X_test, ds.y_test)
    predict_s = time.perf_counter() - t0
    record = {
        "config": name,
        "params": {k: v for k, v in clf.get_params().items() if k != "callbacks"},
        "augmentation": AUGMENTATION if clf.augment else None,
        "test_accuracy": acc,
        "train_accuracy_last_epoch": clf.history_["accuracy"][-1],
        "fit_seconds": round(fit_s, 1),
        "predict_seconds": round(predict_s, 2),
        "n_train": len(ds.X_train),
        "n_test": len(ds.X_test),
        "seed": seed,
        "device": clf.device_,
        "precision": clf.precision_,
        "machine": machine(),
        "timestamp": now(),
    }
    append_jsonl(OUT, record)
    print(f"{name}: test accuracy {acc:.4%} in {fit_s:.0f} s", flush=True)


def render():
    rows = read_jsonl(OUT)
    lines = [
        "# KerasCNNClassifier on MNIST (train 60,000 / test 10,000)",
        "",
        "Written by `benchmarks/cnn_accuracy.py` from `cnn_accuracy.jsonl`; one row per run.",
        "",
    ]
    table = []
    for r in rows:
        p, m = r["params"], r["machine"]
        table.append({
            "config": r["config"], "architecture": p["architecture"],
            "filters / dense": f"{p['filters']} / {p['dense_units']}", "epochs": p["epochs"],
            "batch": p["batch_size"],
            "optimizer": f"{p['optimizer']} lr {p['learning_rate']} ({p['lr_schedule']})",
            "augmentation": _augmentation(r),
            # records made before the precision parameter existed were all float32
            "precision": r.get("precision", "float32"),
            "test accuracy": f"{r['test_accuracy']:.2%}", "fit s": f"{r['fit_seconds']:.0f}",
            "device": r["device"],
            "machine": m.get("host") or str(m.get("cpu_count")) + " x " + m.get("host_cpu", "?"),
            "tutorial reports": TUTORIAL_REPORTED.get(r["config"], ""),
        })
    (RESULTS / "cnn_accuracy.md").write_text("\n".join(lines) + "\n" + markdown_table(table) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="configs to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        for name in args.only or CONFIGS:
            run(name, args.seed)
            render()
    render()


if __name__ == "__main__":
    main()
