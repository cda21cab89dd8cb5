"""Steps per execution: the CNNs' fit time with Keras running 1 or 32 optimizer steps per
call into its compiled train function, on the small fits where per-call overhead shows.

At batch 16 a step of these small nets costs little more than the Python round trip
around it, so ``KerasCNNClassifier(steps_per_execution="auto")`` runs 32 per call. This
measures, per architecture and side by side in one run, both settings on:

* digits, the fixed 1,347-image training split (the registry defaults: batch 16, 2,550
  steps);
* MNIST, one fold of run-all's default-preset CV (6,667 images, ``epochs=6``: batch 16,
  2,502 steps).

Runs alternate (1, 32, 1, 32, ...) so machine noise hits both alike; the fastest of each
is compared. Both settings start from the same seed: the final training loss is recorded
to show they train the same weights. Results: ``results/bench/cnn_steps_per_execution.
{jsonl,md}``. Run::

    python benchmarks/cnn_steps_per_execution.py [--repeats 2] [--render-only]
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

OUT = RESULTS / "bench" / "cnn_steps_per_execution.jsonl"
ARCHS = ("baseline", "batchnorm", "deep")
SETTINGS = (1, 32)


def _data():
    from mnistbench.data.datasets import load_digits_dataset

    d = load_digits_dataset()
    X, y, folds = mnist_cv_folds()
    tr, _ = folds[0]
    return {"digits": (d.X_train, d.y_train, {}),
            "mnist-10k-fold1": (X[tr], y[tr], {"epochs": 6})}


def run(info, repeats, archs):
    from mnistbench.estimators.cnn import KerasCNNClassifier

    for data, (X, y, params) in _data().items():
        for arch in archs:
            seconds = {s: [] for s in SETTINGS}
            loss = {}
            for _ in range(repeats):
                for spe in SETTINGS:
                    est = KerasCNNClassifier(arch, random_state=0, steps_per_execution=spe,
                                             **params)
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    seconds[spe].append(round(time.perf_counter() - t0, 2))
                    loss[spe] = est.history_["loss"][-1]
            record = dict(data=data, arch=arch, n_train=len(X), batch_size=est.batch_size_,
                          steps=est.epochs_ * est._epoch_steps, seconds=seconds,
                          best={s: min(v) for s, v in seconds.items()},
                          final_loss=loss, machine=info, when=now())
            append_jsonl(OUT, record)
            print(f"{data} {arch}: best {record['best']} s, loss {loss}", flush=True)


def render():
    latest = {}
    for r in read_jsonl(OUT):
        latest[(r["data"], r["arch"])] = r
    if not latest:
        return
    rows = []
    for r in latest.values():
        one, many = r["best"]["1"], r["best"]["32"]
        rows.append({
            "data": r["data"], "CNN": r["arch"], "images": f"{r['n_train']:,}",
            "batch": str(r["batch_size"]), "steps": f"{r['steps']:,}",
            "fit s, 1 step per call": f"{one:.1f}", "fit s, 32 per call": f"{many:.1f}",
            "time saved": f"{100 * (1 - many / one):.0f} %",
            "final loss (1 / 32)": f"{r['final_loss']['1']:.5f} / {r['final_loss']['32']:.5f}",
        })
    text = bench_page(
        "Steps per execution: CNN fit time with 1 or 32 optimizer steps per Keras call",
        latest.values(), "python benchmarks/cnn_steps_per_execution.py",
        "Registry defaults otherwise (seed 0, precision \"auto\"); the fastest of the "
        "alternating repeats of each setting. digits: its 1,347-image training split. "
        "mnist-10k-fold1: the first training fold of run-all's default-preset CV, epochs=6. "
        "The same final training loss means the same weights.", rows)
    (RESULTS / "bench" / "cnn_steps_per_execution.md").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--render-only", action="store_true",
                        help="re-write the Markdown from the stored JSON lines")
    args = parser.parse_args()
    if not args.render_only:
        run(machine(), args.repeats, args.archs)
    render()


if __name__ == "__main__":
    main()
