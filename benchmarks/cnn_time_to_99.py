"""CNN time-to-99 %: training seconds until MNIST test accuracy first reaches 99.0 %.

For each Keras backend installed (TensorFlow, JAX, torch) and each configuration,
a fresh process (``KERAS_BACKEND`` must be set before Keras loads) trains
``KerasCNNClassifier`` on all 60,000 training images; ``CHECKS_PER_EPOCH`` times per
epoch the clock is paused and the 10,000 test images are scored, and training stops once
the accuracy is >= 99.0 % (configurations in ``TO_THE_END`` train to their end, so their
rows also give the final test accuracy). Reported: training seconds (first-epoch
compilation included, scoring excluded) until then, the epoch, and the seconds per epoch;
and its time as a ratio of the reference of its pair (the first configuration of the same
invocation; with ``--pairs N`` the configurations run N times in turn, A B A B, each
pair's rows timed against that pair's reference, and the page gives the median). By default one
invocation runs ``REFERENCE`` (the estimator's earlier defaults, 10 epochs at batch 128,
through tf.data's autotuned pipeline: the estimator as it trained before its budget and its
input pipeline changed) and then the configurations in ``COMPARED``: today's defaults,
trained to their end. With ``--to-the-end`` every configuration
trains to its end, and the page adds the training seconds of each whole fit and their
ratio to the reference's. The test
scores only time the fits: no training decision uses them.
``precision`` is the estimator's (default "auto": bfloat16 on a CPU with native
bfloat16 under TensorFlow); the table names the one each run used.
Results go to ``results/bench/cnn_time_to_99.{jsonl,md}``. Run::

    python benchmarks/cnn_time_to_99.py [--backends tensorflow jax torch] [--only CONFIG ...]
                                        [--pairs N] [--to-the-end]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time

from _common import CNN_DEFAULTS_AS_RECORDED, RESULTS, append_jsonl, machine, markdown_table, now, read_jsonl

TARGET = 0.99
#: Test scorings per epoch (off the clock); rows written before this existed scored once.
CHECKS_PER_EPOCH = 4
#: Steps per Keras call: "auto" would fall to 1 because the clock has batch hooks; 32 is
#: what "auto" is on TensorFlow and JAX for the estimator without such callbacks.
STEPS_PER_CALL = 32
OUT = RESULTS / "bench" / "cnn_time_to_99.jsonl"
#: The reference every other configuration of one invocation is timed against: the
#: earlier defaults (10 epochs, batches up to 128) as the estimator trained them before it
#: turned tf.data's autotuning off.
REFERENCE = "earlier-defaults-autotuned"
#: Run after the reference when no ``--only`` is given.
COMPARED = ("defaults",)
#: Configurations run with tf.data's autotuning left on (see ``worker``).
AUTOTUNED = {"earlier-defaults-autotuned"}
#: ``epochs`` is also the length of the cosine schedule, so a shorter budget
#: anneals the learning rate sooner. The short configs pass ``min_steps=0``:
#: they were measured as exactly that many epochs, which the 2,500-step floor would raise.
CONFIGS = {
    "defaults": dict(),  # deep, batch auto (32 here), Adam 1e-3 cosine over 5 epochs
    # deep, batch auto (128 here), Adam 1e-3 cosine over 10 epochs
    "earlier-defaults": dict(CNN_DEFAULTS_AS_RECORDED),
    "earlier-defaults-autotuned": dict(CNN_DEFAULTS_AS_RECORDED),
    # four times the steps per epoch, half the epochs
    "deep-5ep-b32": dict(epochs=5, batch_size=32),
    # the estimator before the step floor (fixed batch 128, no step floor, one step per
    # Keras call)
    "before-issue-12": dict(batch_size=128, epochs=10, min_steps=0, steps_per_execution=1),
    "deep-3ep": dict(epochs=3, min_steps=0, batch_size=128),
    "deep-3ep-float32": dict(epochs=3, min_steps=0, batch_size=128, precision="float32"),
    "deep-3ep-lr2e-3": dict(epochs=3, min_steps=0, batch_size=128, learning_rate=2e-3),
    "deep-2ep-lr2e-3": dict(epochs=2, min_steps=0, batch_size=128, learning_rate=2e-3),
    "deep-3ep-b256-lr2e-3": dict(epochs=3, min_steps=0, batch_size=256, learning_rate=2e-3),
    "deep-2ep-b256-lr2e-3": dict(epochs=2, min_steps=0, batch_size=256, learning_rate=2e-3),
    "deep-4ep-b16": dict(epochs=4, batch_size=16),  # eight times the steps per epoch
    # narrower nets: the deep block's 3x3 convolutions cost ~filters^2
    "deep-f16-4ep-lr2e-3": dict(epochs=4, min_steps=0, batch_size=128, filters=16,
                                learning_rate=2e-3),
    "deep-f24-3ep-lr2e-3": dict(epochs=3, min_steps=0, batch_size=128, filters=24,
                                learning_rate=2e-3),
}
#: Configurations trained to their end (their final test accuracy is reported).
TO_THE_END = {"defaults", "deep-5ep-b32"}


class _Clock:
    """Keras callback: training time, with the test accuracy scored off the clock
    ``CHECKS_PER_EPOCH`` times per epoch; stops at the target unless ``to_the_end``."""

    def __new__(cls, X_test, y_test, to_the_end):
        import keras

        class Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.rows, self.train_s, self.reached = [], 0.0, False

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch, self.next_check = epoch, 1
                self.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                # Keras calls this once per call of ``steps_per_execution`` steps, and
                # tells its callbacks the steps of an epoch
                done = math.floor((batch + 1) * CHECKS_PER_EPOCH / self.params["steps"])
                if self.next_check <= done < CHECKS_PER_EPOCH:
                    self.check(self.epoch + done / CHECKS_PER_EPOCH)
                    self.next_check = done + 1

            def on_epoch_end(self, epoch, logs=None):
                if not self.model.stop_training:  # not an epoch cut short at the target
                    self.check(epoch + 1)

            def check(self, at):
                self.train_s += time.perf_counter() - self.t0
                proba = self.model.predict(X_test, batch_size=1024, verbose=0)
                acc = float((proba.argmax(axis=1) == y_test).mean())
                self.rows.append({"epoch": at, "train_seconds": round(self.train_s, 2),
                                  "test_accuracy": acc})
                print(f"  epoch {at:g}: {self.train_s:.1f} s, test {acc:.4f}",
                      file=sys.stderr, flush=True)
                self.reached = self.reached or acc >= TARGET
                if self.reached and not to_the_end:
                    self.model.stop_training = True
                self.t0 = time.perf_counter()

        return Clock()


def worker(config, run_id, pair, whole=False):
    import numpy as np

    from mnistbench import load_dataset
    from mnistbench.estimators.cnn import KerasCNNClassifier

    if config in AUTOTUNED:
        # the estimator as it was before it built its Keras datasets without tf.data's
        # autotuning: the same batches, and the stall at epoch ends that this removed
        import contextlib

        from mnistbench.estimators import scikeras_compat

        scikeras_compat.tf_data_without_autotune = contextlib.nullcontext

    ds = load_dataset("mnist")
    X_test = ds.X_test[..., None].astype(np.float32)
    params = {"steps_per_execution": STEPS_PER_CALL, **CONFIGS[config]}
    # later pairs repeat the timing only: a configuration trains to its end once
    to_the_end = whole or (config in TO_THE_END and pair == 0)
    clock = _Clock(X_test, ds.y_test, to_the_end)
    clf = KerasCNNClassifier(**params, random_state=0, callbacks=[clock])
    clf.fit(ds.X_train, ds.y_train)
    reached = next((r for r in clock.rows if r["test_accuracy"] >= TARGET), None)
    whole = [r for r in clock.rows if float(r["epoch"]).is_integer()]
    reached_whole = next((r for r in whole if r["test_accuracy"] >= TARGET), None)
    params = {k: v for k, v in clf.get_params().items() if k != "callbacks"}
    print(json.dumps({
        "config": config,
        "run": run_id,
        "pair": pair,
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "params": params,
        "batch_size_used": clf.batch_size_,
        "epochs_used": clf.epochs_,
        "checks_per_epoch": CHECKS_PER_EPOCH,
        "reached_99": reached is not None,
        "time_to_99_seconds": reached["train_seconds"] if reached else None,
        "epoch_reached": reached["epoch"] if reached else None,
        # the same, looking only at the ends of epochs (as rows with one check per epoch)
        "epoch_reached_whole": reached_whole["epoch"] if reached_whole else None,
        "final_test_accuracy": clock.rows[-1]["test_accuracy"] if to_the_end else None,
        # training seconds of the whole fit (scoring excluded), where it trained to its end
        "whole_fit_seconds": clock.rows[-1]["train_seconds"] if to_the_end else None,
        "checks": clock.rows,
        "epochs": whole,
        "seconds_per_epoch_after_first": (
            round((whole[-1]["train_seconds"] - whole[0]["train_seconds"])
                  / (len(whole) - 1), 2) if len(whole) > 1 else None),
        "device": clf.device_,
        "precision": clf.precision_,
        "steps_per_execution": clf.model_.steps_per_execution,
        "machine": machine(),
        "timestamp": now(),
    }))


def _pair_of(row):
    """A row's pair: its invocation, backend and repeat (rows before pairs: the first)."""
    return row.get("run"), row["backend"], row.get("pair", 0)


def _ratio(row, ref, key="time_to_99_seconds"):
    """``row``'s ``key`` (time to 99 %, or ``whole_fit_seconds``) over its reference's, or
    None where either is missing (not reached, or not trained to its end)."""
    if ref is None or row is ref or not (row.get(key) and ref.get(key)):
        return None
    return row[key] / ref[key]


def _medians(rows, reference):
    """Lines of the median ratio per configuration of each invocation with several pairs."""
    ratios = {}
    for r in rows:
        run, backend, pair = _pair_of(r)
        ratio = _ratio(r, reference.get((run, backend, pair)))
        if ratio is not None:
            ratios.setdefault((run, backend, r["config"]), []).append(ratio)
    return [f"- invocation {run} ({backend}): `{config}` at "
            f"{statistics.median(v):.2f}x of its reference, the median of {len(v)} pairs "
            f"({', '.join(f'{x:.2f}x' for x in v)})"
            for (run, backend, config), v in ratios.items() if len(v) > 1]


def render():
    rows = read_jsonl(OUT)
    reference = {}  # each pair's first row (rows before pairs: the invocation's): its reference
    for r in rows:
        if r.get("run"):
            reference.setdefault(_pair_of(r), r)
    lines = [
        "# CNN time to 99.0 % MNIST test accuracy",
        "",
        "Written by `benchmarks/cnn_time_to_99.py` from `cnn_time_to_99.jsonl`. Training seconds "
        "on all 60,000 images until the test accuracy first reaches 99.0 %, scored off the "
        f"clock {CHECKS_PER_EPOCH} times per epoch (\"checks/epoch\" 1: rows written when it "
        "was scored once per epoch); first-epoch compilation included. Seed 0. \"vs its "
        "reference\": the time as a ratio of the first row of the same invocation and pair "
        "(`--pairs N` runs the configurations N times in turn), its reference: "
        "`defaults` in the first invocations; `defaults-autotuned` (the defaults of the time, "
        "10 epochs at batch 128, with tf.data's autotuning on) once the estimator turned it "
        f"off; `{REFERENCE}` (the same budget) once the defaults became 5 epochs at batch 32. "
        "\"final test acc\": a configuration trained to its end; the `batch` and `schedule "
        "epochs` columns say which budget a `defaults` row had. \"whole fit\": the training "
        "seconds of the whole fit (`--to-the-end`: every configuration of the invocation "
        "trains to its end), and its ratio to the reference's.",
        "",
    ]
    table = []
    for r in rows:
        p = r["params"]
        best = max(e["test_accuracy"] for e in r.get("checks", r["epochs"]))
        ratio = _ratio(r, reference.get(_pair_of(r)))
        whole = _ratio(r, reference.get(_pair_of(r)), "whole_fit_seconds")
        final = r.get("final_test_accuracy")
        table.append({
            "config": r["config"], "backend": r["backend"], "architecture": p["architecture"],
            # records before the precision parameter existed were all float32
            "precision": r.get("precision", "float32"),
            "batch": r.get("batch_size_used", p["batch_size"]),
            # records before the steps_per_execution parameter ran one step per call
            "steps per call": r.get("steps_per_execution", 1),
            "optimizer": f"{p['optimizer']} {p['learning_rate']} ({p['lr_schedule']})",
            "schedule epochs": r.get("epochs_used", p["epochs"]),
            "checks/epoch": r.get("checks_per_epoch", 1),
            "reached 99 %": "yes" if r["reached_99"] else "no",
            "time to 99 % (s)": f"{r['time_to_99_seconds']:.1f}" if r["reached_99"] else "-",
            "at epoch": f"{r['epoch_reached']:g}" if r["epoch_reached"] else "-",
            "pair": r.get("pair", 0) + 1 if r.get("run") else "-",
            "vs its reference": f"{ratio:.2f}x" if ratio is not None else "-",
            "s/epoch (after 1st)": r["seconds_per_epoch_after_first"] or "-",
            "best test acc": f"{100 * best:.2f} %",
            "final test acc": f"{100 * final:.2f} %" if final is not None else "-",
            "whole fit (s)": (f"{r['whole_fit_seconds']:.1f}" if r.get("whole_fit_seconds")
                              else "-"),
            "whole fit vs its reference": f"{whole:.2f}x" if whole is not None else "-",
            "device": r["device"], "machine": r["machine"]["host"],
            "when": r["timestamp"][:16],
        })
    medians = _medians(rows, reference)
    if medians:
        medians = ["", "Invocations of several pairs:", "", *medians]
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n" + markdown_table(table) + "\n"
                                      + "".join(line + "\n" for line in medians))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS))
    parser.add_argument("--pairs", type=int, default=1,
                        help="run the reference and the others this many times in turn")
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "RUN", "PAIR"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--to-the-end", action="store_true",
                        help="train every configuration to its end (whole-fit times)")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1], int(args.worker[2]), args.to_the_end)
    run_id = now()
    if not args.render_only:
        for backend in args.backends:
            if importlib.util.find_spec(backend) is None:
                print(f"{backend}: not installed, skipped", file=sys.stderr)
                continue
            for pair, config in itertools.product(range(args.pairs),
                                                  args.only or [REFERENCE, *COMPARED]):
                print(f"{backend} / {config} (pair {pair + 1})", file=sys.stderr, flush=True)
                env = {**os.environ, "KERAS_BACKEND": backend}
                command = [sys.executable, __file__, "--worker", config, run_id, str(pair)]
                out = subprocess.run(command + ["--to-the-end"] * args.to_the_end, env=env,
                                     stdout=subprocess.PIPE, text=True)
                if out.returncode != 0:
                    print(f"{backend} / {config}: failed (exit {out.returncode})", file=sys.stderr)
                    continue
                append_jsonl(OUT, json.loads(out.stdout.strip().splitlines()[-1]))
                render()
    render()


if __name__ == "__main__":
    main()
