"""The benchmark harness: presets, units, the resumable record store, the local and
Dask runners, and :func:`run_benchmark`.

Per (dataset, model): stratified K-fold cross-validation on the training split
(optionally a stratified subsample of it), then a final fit on the training split
scored on the held-out test split. Each (dataset, model, fold|test) is one *unit*; a
finished unit is one JSON line appended to ``records.jsonl`` at once, so an
interrupted run (Ctrl-C, kill -9) loses at most the units in progress, and a re-run
skips every unit this folder already recorded on this machine for the same parameters.

Modules, each importing only those before it: ``presets``, ``units``, ``records``,
``execute`` (one unit in this process), ``local`` (worker processes), ``options``,
``dask_runner``, ``run``, ``curve`` (the learning curve: the same units, store and
runners, one unit per training size and seed).
"""

from mnistbench.harness.execute import failed_record, record_unit, run_unit
from mnistbench.harness.learning_curves import CURVE_SIZES, learning_curve
from mnistbench.harness.local import run_units, thread_env
from mnistbench.harness.options import DEFAULT_OUTPUT, RunOptions
from mnistbench.harness.presets import PRESETS, Preset
from mnistbench.harness.run import run_benchmark
from mnistbench.harness.store import RecordStore
from mnistbench.harness.units import Unit, plan_units, record_key

__all__ = ["CURVE_SIZES", "DEFAULT_OUTPUT", "PRESETS", "Preset", "RecordStore", "RunOptions", "Unit",
           "failed_record", "learning_curve", "plan_units", "record_key", "record_unit", "run_benchmark",
           "run_unit", "run_units", "thread_env"]
