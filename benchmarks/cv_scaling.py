"""CV scaling: wall time of the same run with 1 and 2 workers (local processes and Dask).

The classic models (logreg, random forest, SVC, HOG+SVM) on MNIST with 3-fold CV on a
stratified 10,000 images plus a final fit on 20,000 (``_common.scaling_preset``): 16
units. Each configuration runs into its own empty output folder, so nothing is
skipped; all in one invocation, one after another. With 1 worker the worker may use
every core for its thread pools (BLAS, forest); with N workers each gets cores // N,
so the speed-up is over a run that already uses all cores where the library can; a
fourth run, 1 worker limited to 1 thread, shows the unit-level parallelism alone.
The summed fit + predict seconds of each run give what this machine allows: how
much slower the same single-threaded units get when two run at once (memory
bandwidth and L3 are shared), and the speed-up with perfect balancing and no
fixed cost (``analysis``).
Writes ``results/bench/cv_scaling.json``. Target: >= 1.7x at 2 workers. Run::

    python benchmarks/run.py cv_scaling
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import CLASSIC_MODELS, machine, now, scaling_preset, timed_scaling_run, write_json

#: (backend, workers, threads per worker; None = cores // workers)
CONFIGS = [("local", 1, None), ("local", 2, None), ("dask", 2, None), ("local", 1, 1)]


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help only
    from mnistbench import load_dataset

    load_dataset("mnist")  # fetched and cached before any clock starts
    preset = scaling_preset()
    rows = []
    for backend, workers, threads in CONFIGS:
        df, wall, unit_s = timed_scaling_run(n_jobs=workers, backend=backend, threads=threads,
                                             figures=False)
        assert (df["status"] == "ok").all(), df
        rows.append({"backend": backend, "workers": workers,
                     "threads_per_worker": threads or max(1, (os.cpu_count() or 1) // workers),
                     "wall_seconds": round(wall, 1),
                     "unit_seconds_sum": round(unit_s, 1),
                     "test_accuracy": dict(zip(df["model"], df["test_accuracy"], strict=True))})
        print(rows[-1], file=sys.stderr, flush=True)
    base = rows[0]["wall_seconds"]  # 1 worker using every core
    single = rows[-1]["wall_seconds"]  # 1 worker, 1 thread: pure unit-level parallelism
    for r in rows:
        r["speedup_vs_1_worker_all_cores"] = round(base / r["wall_seconds"], 2)
        r["speedup_vs_1_worker_1_thread"] = round(single / r["wall_seconds"], 2)
    # What the hardware allows: the same single-threaded units take longer when two run
    # at once (shared memory bandwidth and L3); with perfect balancing and no fixed cost
    # the 2-worker wall time would be half their summed time.
    by = {(r["backend"], r["workers"], r["threads_per_worker"]): r for r in rows}
    one_thread, two = by[("local", 1, 1)], by[("local", 2, 1)]
    contention = two["unit_seconds_sum"] / one_thread["unit_seconds_sum"]
    ideal_two = two["unit_seconds_sum"] / 2
    analysis = {
        "unit_time_inflation_2_workers_vs_1_thread_alone": round(contention, 3),
        "fixed_seconds_1_worker": round(base - rows[0]["unit_seconds_sum"], 1),
        "fixed_plus_imbalance_seconds_2_workers": round(two["wall_seconds"] - ideal_two, 1),
        "ceiling_speedup_2_workers_no_fixed_cost": round(base / ideal_two, 2),
    }
    record = {
        "benchmark": "cv_scaling",
        "workload": preset.description + f"; models {', '.join(CLASSIC_MODELS)}; 16 units",
        "target": ">= 1.7x at 2 workers",
        "rows": rows,
        "analysis": analysis,
        "machine": machine(),
        "timestamp": now(),
    }
    write_json("cv_scaling", record)
    for r in rows:
        print(f"{r['backend']} x{r['workers']} ({r['threads_per_worker']} threads): "
              f"{r['wall_seconds']} s, speed-up {r['speedup_vs_1_worker_all_cores']}x over 1 "
              f"worker on all cores, {r['speedup_vs_1_worker_1_thread']}x over 1 worker on 1 thread")
    print(analysis)
