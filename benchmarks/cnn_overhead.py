"""Fit-time overhead of KerasCNNClassifier over the same model in plain Keras.

Same network (``mnistbench.estimators.cnn.build_cnn``), optimizer, data, epochs and batch size;
the plain side converts uint8 images to float32 (n, 28, 28, 1) and calls
``model.fit`` as a Keras user would. Runs alternate (plain, wrapper, plain, ...)
and the fastest of each is compared, so machine noise hits both alike. Target:
ratio wrapper / plain <= 1.05. Writes ``results/bench/cnn_overhead.json``. Run::

    python benchmarks/run.py cnn_overhead [--repeats 3] [--epochs 2] [--n 60000]
"""

from __future__ import annotations

import argparse
import time

from _common import machine, now, write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--architecture", default="baseline")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    import keras
    import numpy as np

    from mnistbench import load_dataset
    from mnistbench.estimators.architectures import build_cnn
    from mnistbench.estimators.architectures import make_optimizer as _make_optimizer
    from mnistbench.estimators.cnn import KerasCNNClassifier

    ds = load_dataset("mnist")
    X, y = ds.X_train[: args.n], ds.y_train[: args.n]
    params = dict(architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size,
                  random_state=0, verbose=0)

    def plain():
        keras.utils.set_random_seed(0)
        Xf = X.astype("float32")[..., None]
        model = build_cnn((28, 28, 1), 10, architecture=args.architecture, dropout=0.25,
                          x_scale=float(Xf.max()), seed=0)
        steps = int(np.ceil(len(Xf) / args.batch_size)) * args.epochs
        model.compile(optimizer=_make_optimizer("adam", 1e-3, 0.9, "cosine", steps),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(Xf, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)

    def wrapped():
        KerasCNNClassifier(**params).fit(X, y)

    plain()  # warm-up: first graph compilation, allocator
    times = {"plain_keras": [], "KerasCNNClassifier": []}
    for _ in range(args.repeats):
        for name, fn in (("plain_keras", plain), ("KerasCNNClassifier", wrapped)):
            t0 = time.perf_counter()
            fn()
            times[name].append(round(time.perf_counter() - t0, 2))
            print(name, times[name][-1], flush=True)
    best = {k: min(v) for k, v in times.items()}
    ratio = best["KerasCNNClassifier"] / best["plain_keras"]
    result = {
        "benchmark": "cnn_overhead",
        "target": "ratio <= 1.05",
        "ratio": round(ratio, 4),
        "meets_target": ratio <= 1.05,
        "seconds": times,
        "best_seconds": best,
        "settings": {**params, "n_train": len(X)},
        "machine": machine(),
        "timestamp": now(),
    }
    write_json("cnn_overhead", result)
    print(f"overhead ratio {ratio:.3f} (target <= 1.05)")
