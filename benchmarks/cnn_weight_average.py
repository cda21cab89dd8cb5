"""CNN weight averaging: MNIST test accuracy of the trained weights and of their moving averages.

``KerasCNNClassifier`` (the given configuration) trains on all 60,000 MNIST training
images; after every optimizer step a callback folds the weights into exponential moving
averages (one per momentum in ``MOMENTA``, as Keras's ``use_ema`` would keep them, first
step included), and ``CHECKS_PER_EPOCH`` times per epoch the 10,000 test images are scored
with the weights themselves ("raw") and with each average. The averages never feed back
into training, so one fit gives every column. The question it answers: would averaging
weights (what a ``use_ema`` optimizer returns from ``fit``) cross 99 % test accuracy in
fewer epochs than the weights themselves, and does it change the end of the fit? The test
scores only describe the fits: no training decision uses them. The callback's batch hooks
make Keras run one step per call; check points are whole optimizer steps
(``round(k * steps / CHECKS_PER_EPOCH)``), so they can sit a few steps from those of
``cnn_time_to_99.py``, where checks wait for a 32-step call to end.
Results go to ``results/bench/cnn_weight_average.{jsonl,md}``. Run::

    python benchmarks/cnn_weight_average.py [--only CONFIG ...]
"""

from __future__ import annotations

import argparse
import json

from _common import RESULTS, append_jsonl, bench_page, machine, now, read_jsonl

CHECKS_PER_EPOCH = 4
MOMENTA = (0.99, 0.995)
TARGET = 0.99
OUT = RESULTS / "bench" / "cnn_weight_average.jsonl"
CONFIGS = {
    "defaults": {},  # 5 epochs at batch 32 on 60,000 images, cosine over the 5
    "3-epochs": {"epochs": 3},  # the same with the cosine cycle over 3 epochs
}


def _averaging_callback(X_test, y_test, rows):
    import keras

    class Averages(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.averages, self.step = None, 0
            steps = self.params["steps"]  # the steps of one epoch; checks at its quarters
            self.checks = {round(k * steps / CHECKS_PER_EPOCH) % steps
                           for k in range(1, CHECKS_PER_EPOCH + 1)}

        def on_train_batch_end(self, batch, logs=None):
            weights = [v.numpy() for v in self.model.trainable_weights]
            if self.averages is None:
                self.averages = {m: [w.copy() for w in weights] for m in MOMENTA}
            else:
                for m, average in self.averages.items():
                    for a, w in zip(average, weights, strict=True):
                        a *= m
                        a += (1 - m) * w
            self.step += 1
            if self.step % self.params["steps"] in self.checks:
                self.check(self.step / self.params["steps"])

        def check(self, at):
            raw = [v.numpy() for v in self.model.trainable_weights]
            row = {"epoch": round(at * CHECKS_PER_EPOCH) / CHECKS_PER_EPOCH, "step": self.step,
                   "raw": self.accuracy()}
            for m, average in self.averages.items():
                for v, a in zip(self.model.trainable_weights, average, strict=True):
                    v.assign(a)
                row[str(m)] = self.accuracy()
            for v, w in zip(self.model.trainable_weights, raw, strict=True):
                v.assign(w)
            rows.append(row)

        def accuracy(self):
            proba = self.model.predict(X_test, batch_size=1024, verbose=0)
            return float((proba.argmax(axis=1) == y_test).mean())

    return Averages()


def measure(config):
    import numpy as np

    from mnistbench import load_dataset
    from mnistbench.estimators.cnn import KerasCNNClassifier

    ds = load_dataset("mnist")
    rows = []
    callback = _averaging_callback(ds.X_test[..., None].astype(np.float32), ds.y_test, rows)
    clf = KerasCNNClassifier(**CONFIGS[config], random_state=0, callbacks=[callback])
    clf.fit(ds.X_train, ds.y_train)
    return {
        "config": config,
        "params": {k: v for k, v in clf.get_params().items() if k != "callbacks"},
        "batch_size_used": clf.batch_size_,
        "epochs_used": clf.epochs_,
        "precision": clf.precision_,
        "momenta": list(MOMENTA),
        "checks": rows,
        "machine": machine(),
        "timestamp": now(),
    }


def _first(checks, column):
    return next((c["epoch"] for c in checks if c[column] >= TARGET), None)


def render(records):
    columns = ["raw", *(str(m) for m in MOMENTA)]
    names = {k: "weights" if k == "raw" else f"average {k}" for k in columns}
    rows = []
    for r in records:
        for c in r["checks"]:
            rows.append({"config": r["config"], "batch": str(r["batch_size_used"]),
                         "schedule epochs": str(r["epochs_used"]), "epoch": f"{c['epoch']:g}",
                         **{names[k]: f"{100 * c[k]:.2f} %" for k in columns}})
    firsts = "\n".join(
        f"- `{r['config']}` ({r['precision']}, {r['timestamp'][:16]}): first >= 99 % at epoch "
        + ", ".join(f"{_first(r['checks'], k) or 'never'} ({names[k]})" for k in columns)
        + "; at the end " + ", ".join(f"{100 * r['checks'][-1][k]:.2f} % ({names[k]})" for k in columns)
        for r in records)
    intro = ("Test accuracy on MNIST's 10,000 test images of `KerasCNNClassifier` trained on all "
             "60,000 training images (seed 0), scored "
             f"{CHECKS_PER_EPOCH} times per epoch with its weights and with exponential moving "
             "averages of them (momentum per column, updated every optimizer step; they never "
             "feed back into training). Only describes the fits: no training decision uses "
             "the test scores.\n\n" + firsts)
    page = bench_page("CNN weights against their moving averages", records,
                      "benchmarks/cnn_weight_average.py", intro, rows)
    OUT.with_suffix(".md").write_text(page)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), default=list(CONFIGS))
    args = parser.parse_args()
    for config in args.only:
        record = measure(config)
        append_jsonl(OUT, record)
        print(json.dumps({k: record[k] for k in ("config", "batch_size_used", "epochs_used")}))
    render(read_jsonl(OUT))


if __name__ == "__main__":
    main()
