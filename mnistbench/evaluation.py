"""The benchmark protocol, presets and the resumable record store.

Per (dataset, model): stratified K-fold cross-validation on the training split
(optionally a stratified subsample of it), then a final fit on the training split
scored on the held-out test split. Each (dataset, model, fold|test) is one *unit*;
a finished unit is one JSON line appended to ``records.jsonl`` at once, so an
interrupted run (Ctrl-C, kill -9) loses at most the units in progress and a re-run
skips every unit already recorded on this machine for the same parameters.

Units run in worker processes (``n_jobs`` of them), so a unit that hangs past
``timeout`` seconds is stopped and recorded as timed out, and a crash (even a
segfault) is recorded as failed while the run goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing as mp
import numbers
import os
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections import Counter
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from mnistbench.errors import UsageError, check_writable_file
from mnistbench.hostinfo import host_description, library_versions

__all__ = ["DEFAULT_OUTPUT", "PRESETS", "Preset", "RecordStore", "Unit", "plan_units",
           "run_units"]

#: Where a run writes when no output folder is given. Not ``results/``: that folder
#: holds the project's reference results, which a user's run must never overwrite or
#: pass off as its own.
DEFAULT_OUTPUT = "mnistbench-results"


# --------------------------------------------------------------------------- presets
@dataclasses.dataclass(frozen=True)
class Preset:
    """How much work a run does.

    Attributes
    ----------
    name : str
    cv : int
        Stratified folds on the (subsampled) training split.
    cv_subsample : int or None
        Stratified subsample of the training split used for CV (None: all of it).
    train_subsample : int or None
        Stratified subsample used for the final fit (None: all of it). The test
        split is always used whole.
    model_params : dict
        ``{model name: {param: value}}`` passed to ``set_params`` (fewer epochs...).
    description : str
    repeats : int
        Repetitions of the K-fold split, each shuffled with its own seed (repeated
        stratified K-fold): more folds for the intervals and paired tests.
    """

    name: str
    cv: int
    cv_subsample: int | None
    train_subsample: int | None
    model_params: dict
    description: str
    repeats: int = 1

    @property
    def splits(self) -> list[str]:
        """The CV units' split names: ``fold-k``, or ``r<i>-fold-k`` when repeated."""
        if self.repeats == 1:
            return [f"fold-{k}" for k in range(1, self.cv + 1)]
        return [f"r{r}-fold-{k}" for r in range(1, self.repeats + 1)
                for k in range(1, self.cv + 1)]


_CNN_NAMES = ("cnn-baseline", "cnn-batchnorm", "cnn-deep")

PRESETS = {
    "quick": Preset(
        "quick", cv=2, cv_subsample=1000, train_subsample=2000,
        model_params={
            **{n: {"epochs": 2, "batch_size": 64} for n in _CNN_NAMES},
            "xgboost": {"xgboost__n_estimators": 20},
            "random-forest": {"forest__n_estimators": 50},
        },
        description="smoke run: 2 folds on 1,000 images, final fit on 2,000, CNNs 2 epochs",
    ),
    "default": Preset(
        "default", cv=3, cv_subsample=10000, train_subsample=None,
        model_params={
            **{n: {"epochs": 6} for n in _CNN_NAMES},
            "xgboost": {"xgboost__n_estimators": 100},
            "random-forest": {"forest__n_estimators": 100},
        },
        description=(
            "3-fold CV on 10,000 training images, final fit on the full training split, "
            "scored on the full test set; CNNs 6 epochs, XGBoost 100 rounds, forest 100 trees"
        ),
    ),
    "full": Preset(
        "full", cv=5, cv_subsample=None, train_subsample=None,
        model_params={n: {"epochs": 10} for n in _CNN_NAMES},
        description="the tutorial's protocol: 5-fold CV on the full training split, CNNs 10 epochs",
    ),
}


# --------------------------------------------------------------------------- units
@dataclasses.dataclass(frozen=True)
class Unit:
    """One (dataset, model, split) to fit and score; ``split`` is ``fold-k`` or ``test``."""

    dataset: str
    model: str
    split: str
    preset: Preset
    seed: int
    params: dict
    params_hash: str
    device: str = "auto"
    threads: int | None = None
    verbose: int = 0

    @property
    def key(self):
        return (self.dataset, self.model, self.split, self.params_hash)


def record_key(record: dict):
    """The ``Unit.key`` of the unit a record belongs to."""
    return (record["dataset"], record["model"], record["split"], record["params_hash"])


def params_hash(dataset, model, preset: Preset, seed, params, data_fingerprint=None):
    """Hash of everything that changes a unit's result (not how many jobs run it).

    ``data_fingerprint`` identifies the content of a folder dataset, so records of
    a folder whose images changed are not reused.
    """
    payload = {
        "dataset": dataset,
        "model": model,
        "cv": preset.cv,
        "cv_subsample": preset.cv_subsample,
        "train_subsample": preset.train_subsample,
        "seed": seed,
        "params": params,
    }
    if preset.repeats != 1:  # absent for one repeat: earlier records keep their hash
        payload["repeats"] = preset.repeats
    if data_fingerprint is not None:
        payload["data"] = data_fingerprint
    blob = json.dumps(payload, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def plan_units(datasets, models, preset: Preset, seed=0, device="auto", threads=None, verbose=0,
               fingerprints=None):
    """Every unit of a run, in order: per dataset and model, the folds then the test fit."""
    units = []
    fingerprints = fingerprints or {}
    for dataset in datasets:
        for model in models:
            params = dict(preset.model_params.get(model, {}))
            h = params_hash(dataset, model, preset, seed, params, fingerprints.get(dataset))
            splits = preset.splits + ["test"]
            units += [Unit(dataset, model, s, preset, seed, params, h, device, threads, verbose)
                      for s in splits]
    return units


# --------------------------------------------------------------------------- records
#: Fields every record has; a line without them is not a record.
RECORD_FIELDS = {"dataset": str, "model": str, "split": str, "params_hash": str, "status": str}


def _is_record(obj) -> bool:
    return isinstance(obj, dict) and all(isinstance(obj.get(k), t) for k, t in RECORD_FIELDS.items())


class RecordStore:
    """Append-only JSON-lines file of finished units.

    Each record is written with one ``write`` on a file opened in append mode and
    fsync'd, so a crash loses at most the line being written. A torn last line
    (kill -9 in the middle of a write) is closed with a newline before the next
    record, so it never swallows that record; unreadable lines and lines that are
    not records are skipped with one warning naming them, and their units run again.

    Ownership: the first run that writes to a folder leaves an owner file
    (``.mnistbench-owner.json``, never shipped: .gitignore'd in the repository)
    with a random store id, and stamps it on each record. A run resumes only
    records of its own store made on this machine, so records copied in from
    elsewhere (the reference results of a clone, say) are never passed off as a
    user's: they are recomputed, and ``report`` shows them only for a folder no run
    has claimed.
    """

    OWNER_FILE = ".mnistbench-owner.json"

    def __init__(self, path):
        self.path = Path(path)
        self._skipped = None

    @property
    def owner_path(self) -> Path:
        return self.path.parent / self.OWNER_FILE

    def store_id(self, create=False):
        """This folder's store id (None if no run claimed it; ``create`` claims it)."""
        try:
            owner = json.loads(self.owner_path.read_text())
            if isinstance(owner, dict) and isinstance(owner.get("store_id"), str):
                return owner["store_id"]
        except (OSError, ValueError):
            pass
        if not create:
            return None
        store_id = uuid.uuid4().hex[:16]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.owner_path.write_text(json.dumps({
            "store_id": store_id, "host": host_description(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "written by mnistbench: records stamped with this id are this folder's own "
                    "and may be resumed; do not copy this file with the records",
        }, indent=1) + "\n")
        return store_id

    def append(self, record: dict) -> None:
        """Append one record, stamped with this folder's store id."""
        record = {**record, "store": self.store_id(create=True)}
        line = (json.dumps(record, default=_json_default) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # close a torn last line: it must not swallow this one
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, warn=True) -> list[dict]:
        """Every record in the file, in order; skipped lines are warned about once."""
        if not self.path.exists():
            return []
        records, bad = [], []
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    obj = None
                if _is_record(obj):
                    records.append(obj)
                else:
                    bad.append(number)
        if bad and warn and bad != self._skipped:
            self._skipped = bad
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            warnings.warn(
                f"{self.path}: skipped {len(bad)} line(s) that are not records (line {shown}): "
                "an interrupted write or an edited file; their units are run again",
                stacklevel=2)
        return records

    def own_records(self, host=None) -> list[dict]:
        """Records of this folder's own store (and, with ``host``, made on that machine)."""
        store_id = self.store_id()
        return [r for r in self.load() if store_id is not None and r.get("store") == store_id
                and (host is None or r.get("host") == host)]

    def finished_keys(self, host=None) -> set:
        """Keys of this store's own units recorded as ``ok`` (failed and timed-out units
        are retried); with ``host``, only those recorded on that machine."""
        return {record_key(r) for r in self.own_records(host) if r.get("status") == "ok"}

    def reportable(self) -> list[dict]:
        """The records a report shows: the folder's own once a run has claimed it, else
        all of them (a folder of reference results)."""
        return self.own_records() if self.store_id() else self.load()


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


# --------------------------------------------------------------------------- one unit
_DATA_CACHE: dict = {}


def _stratified_subsample(X, y, n, seed):
    if n is None or n >= len(y):
        return X, y
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    X_sub, _, y_sub, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=seed)
    return X_sub, y_sub


def _data(dataset, preset: Preset, seed, data_options):
    key = (dataset, preset.name, seed)
    if key not in _DATA_CACHE:
        from mnistbench.datasets import load_dataset  # noqa: PLC0415

        ds = load_dataset(dataset, **data_options)
        X_cv, y_cv = _stratified_subsample(ds.X_train, ds.y_train, preset.cv_subsample, seed)
        X_tr, y_tr = _stratified_subsample(ds.X_train, ds.y_train, preset.train_subsample, seed)
        _DATA_CACHE.clear()  # one dataset in memory at a time
        _DATA_CACHE[key] = (ds, X_cv, y_cv, X_tr, y_tr)
    return _DATA_CACHE[key]


def run_unit(unit: Unit, data_options=None) -> dict:
    """Fit and score one unit in this process; return its record (status ok)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score  # noqa: PLC0415
    from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415

    from mnistbench.models import make_model  # noqa: PLC0415

    preset = unit.preset
    ds, X_cv, y_cv, X_tr, y_tr = _data(unit.dataset, preset, unit.seed, data_options or {})
    if unit.split == "test":
        X_fit, y_fit, X_eval, y_eval = X_tr, y_tr, ds.X_test, ds.y_test
    else:
        repeat, _, fold = unit.split.rpartition("fold-")
        k = int(fold)
        r = int(repeat[1:-1]) if repeat else 1  # "r2-" -> 2
        folds = StratifiedKFold(preset.cv, shuffle=True, random_state=unit.seed + r - 1)
        train_idx, val_idx = list(folds.split(X_cv, y_cv))[k - 1]
        X_fit, y_fit, X_eval, y_eval = X_cv[train_idx], y_cv[train_idx], X_cv[val_idx], y_cv[val_idx]

    est = make_model(unit.model, random_state=unit.seed, device=unit.device, n_jobs=unit.threads)
    est.set_params(**unit.params)
    fit_kwargs = {}
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    is_cnn = type(final).__name__ == "KerasCNNClassifier"
    if is_cnn:
        # learning curves against the held-out part, as the tutorial plots them
        # Keras's epoch lines only when asked (--verbose): by default the progress bar
        # is the one thing on the screen, not lines from every worker interleaved with it.
        final.set_params(verbose=2 if unit.verbose >= 2 else 0)
        fit_kwargs["validation_data"] = (X_eval, y_eval)
    t0 = time.perf_counter()
    est.fit(X_fit, y_fit, **fit_kwargs)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = est.predict(X_eval)
    predict_s = time.perf_counter() - t0

    record = _base_record(unit)
    record.update(
        status="ok",
        n_train=int(len(y_fit)),
        n_test=int(len(y_eval)),
        accuracy=float(accuracy_score(y_eval, pred)),
        macro_f1=float(f1_score(y_eval, pred, average="macro")),
        fit_seconds=round(fit_s, 3),
        predict_seconds=round(predict_s, 4),
        device=_device_of(final),
    )
    if is_cnn:
        record["history"] = {k: [float(v) for v in vals] for k, vals in final.history_.items()}
    if unit.split == "test":
        from mnistbench.stats import encode_predictions  # noqa: PLC0415

        labels = np.unique(np.concatenate([np.asarray(y_eval), np.asarray(pred)]))
        record["labels"] = labels.tolist()
        record["confusion"] = confusion_matrix(y_eval, pred, labels=labels).tolist()
        # every statistic of the report (intervals, McNemar) comes from this, not a refit
        record["predictions"] = encode_predictions(y_eval, pred)
    return record


def _device_of(estimator):
    """The record's device: "cpu", "cuda", "gpu:NAME (backend)"; a CNN computing in a
    reduced precision adds it, e.g. "cpu (mixed_bfloat16)"."""
    device = getattr(estimator, "device_", None) or "cpu"
    if device.startswith("cpu"):
        device = device.split(" (")[0]
    precision = getattr(estimator, "precision_", "float32")
    return device if precision == "float32" else f"{device} ({precision})"


def _base_record(unit: Unit) -> dict:
    return {
        "dataset": unit.dataset,
        "model": unit.model,
        "split": unit.split,
        "preset": unit.preset.name,
        "seed": unit.seed,
        "params": unit.params,
        "params_hash": unit.params_hash,
        "versions": library_versions(),
        "host": host_description(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------- workers
def thread_env(threads, device="auto") -> dict:
    """Environment that caps a worker's thread pools (BLAS, OpenMP, TensorFlow) at
    ``threads``, and hides GPUs for ``device="cpu"``; set before frameworks load."""
    env = {}
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS"):
            env[var] = str(threads)
        env["TF_NUM_INTEROP_THREADS"] = "1"
    if device == "cpu":  # the CNN stays off the GPU too
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    return env


def _exit_with_parent(parent_pid):
    """Watchdog thread of a worker: leave at once, quietly, when the parent is gone
    (kill -9 of the run), even in the middle of a unit."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _worker_main(conn, threads, data_options, parent_pid, device="auto"):
    """Worker loop: receive a Unit, send back its record (or the error)."""
    os.environ.update(thread_env(threads, device))  # before any framework is imported
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    import mnistbench.models  # noqa: F401, PLC0415 - start-up is not charged to a unit
    import sklearn.metrics  # noqa: F401, PLC0415

    try:
        conn.send("ready")
        while True:
            if not conn.poll(1.0):
                continue
            unit = conn.recv()
            if unit is None:
                return
            conn.send(record_unit(unit, data_options))
    except (BrokenPipeError, EOFError, ConnectionError, OSError):
        return  # the parent is gone: nothing to report to


def record_unit(unit: Unit, data_options=None) -> dict:
    """:func:`run_unit`, with any failure turned into a ``failed`` record."""
    try:
        return run_unit(unit, data_options)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded
        record = _base_record(unit)
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8))
        return record


def failed_record(unit: Unit, error: str, status="failed") -> dict:
    """The record of a unit that produced none itself (worker lost, timed out)."""
    record = _base_record(unit)
    record.update(status=status, error=error)
    return record


class _Worker:
    def __init__(self, ctx, threads, data_options, device="auto"):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, threads, data_options, os.getpid(), device),
            # Not daemonic: joblib refuses to parallelise inside daemonic processes
            # (random forest would silently run on one core). Workers still never
            # outlive a run: they are stopped in run_units' finally and exit on their
            # own when the parent process disappears.
            daemon=False,
        )
        self.process.start()
        child.close()
        self.unit = None
        self.started = None
        self.ready = False

    def submit(self, unit):
        self.unit, self.started = unit, time.monotonic()
        self.conn.send(unit)

    def stop(self, kill=False):
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def run_units(units, store: RecordStore, n_jobs=1, timeout=None, data_options=None,
              on_record=None, threads=None):
    """Run ``units`` in ``n_jobs`` worker processes, appending each record to ``store``.

    Parameters
    ----------
    units : list of Unit
        Units already ``ok`` in ``store`` must be filtered out by the caller.
    n_jobs : int
        Parallel worker processes; each limits its thread pools to ``threads``
        (default cores // n_jobs).
    timeout : float or None
        Seconds a unit may take before its worker is killed and the unit recorded
        as ``timeout``.
    on_record : callable(record), optional
        Called in this process after each record is stored (progress output).

    Returns
    -------
    Counter of record statuses.
    """
    pending = list(units)
    statuses = Counter()
    if not pending:
        return statuses
    ctx = mp.get_context("spawn")
    n_jobs = max(1, min(n_jobs, len(pending)))
    device = pending[0].device

    def new_worker():
        return _Worker(ctx, threads or _threads_for(n_jobs), data_options, device)

    workers = [new_worker() for _ in range(n_jobs)]

    def finish(worker, record):
        store.append(record)
        statuses[record["status"]] += 1
        worker.unit = worker.started = None
        if on_record:
            on_record(record)

    try:
        while pending or any(w.unit for w in workers):
            busy = [w for w in workers if w.unit]
            wait_for = 5.0
            if timeout and busy:
                wait_for = max(0.05, min(wait_for, min(w.started + timeout - time.monotonic()
                                                       for w in busy)))
            ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers], wait_for)
            for i, w in enumerate(workers):
                if w.conn in ready and w.conn.poll():
                    try:
                        message = w.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message == "ready":
                        w.ready = True
                    elif message is not None and w.unit:
                        finish(w, message)
                if not w.process.is_alive() and not w.unit:
                    if pending:  # died while starting: replace it
                        if w.process.exitcode not in (0, None) and not w.ready:
                            raise RuntimeError(
                                f"a worker process could not start (exit code {w.process.exitcode})")
                        workers[i] = new_worker()
                    continue
                if w.unit and not w.process.is_alive():
                    finish(w, failed_record(
                        w.unit, f"worker process died (exit code {w.process.exitcode}); "
                                "out of memory or a crash in native code"))
                    workers[i] = w = new_worker()
                elif w.unit and timeout and time.monotonic() - w.started > timeout:
                    record = failed_record(w.unit, f"stopped after {timeout:g} s (--timeout)",
                                           status="timeout")
                    w.stop(kill=True)
                    finish(w, record)
                    workers[i] = w = new_worker()
                if not w.unit and w.ready and pending:
                    w.submit(pending.pop(0))
    finally:
        for w in workers:
            w.stop(kill=bool(w.unit))
    return statuses


def _threads_for(n_jobs):
    return max(1, (os.cpu_count() or 1) // n_jobs)



# --------------------------------------------------------------------------- options
def _whole(value, name, low, fix, high=None):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f"{low} or more" if high is None else f"from {low} to {high}"
        raise UsageError(f"{name}={value!r}: must be a whole number {bound}; {fix}")


def check_run_options(*, datasets, models, preset, cv, seed, n_jobs, threads, timeout, device,
                      backend, repeats=1):
    """Check every run option before any work starts; return the :class:`Preset`.

    Raises :class:`~mnistbench.errors.UsageError` naming the option, what is allowed
    and the fix. The command line and the Python API share this one check.
    """
    from mnistbench.datasets import DATASETS, is_dataset_name  # noqa: PLC0415
    from mnistbench.models import MODELS  # noqa: PLC0415

    for name in datasets:
        if not is_dataset_name(name):
            raise UsageError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)} "
                             "or folder:PATH")
    for name in models:
        if name not in MODELS:
            raise UsageError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    cores = os.cpu_count() or 1
    _whole(n_jobs, "n_jobs", 1, f"it is the number of worker processes (this machine has "
           f"{cores} cores; --n-jobs {cores} uses all of them)")
    if threads is not None:
        _whole(threads, "threads", 1, "it is the thread-pool size of each worker; leave it out "
               "for cores // workers")
    _whole(seed, "seed", 0, "NumPy and the models take seeds in that range", high=2**32 - 1)
    if cv is not None:
        _whole(cv, "cv", 2, "cross-validation needs at least 2 folds")
    _whole(repeats, "repeats", 1, "it is how many times the K-fold split is repeated")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, numbers.Real)
                                or not timeout > 0 or not np.isfinite(timeout)):
        raise UsageError(f"timeout={timeout!r}: must be a number of seconds above 0; leave it "
                         "out for no limit")
    if device not in ("auto", "cpu", "gpu"):
        raise UsageError(f"device={device!r}: choose 'auto', 'cpu' or 'gpu'")
    if backend not in ("local", "dask"):
        raise UsageError(f"unknown backend {backend!r}; choose 'local' or 'dask'")
    if backend == "dask" and timeout:
        raise UsageError("--timeout works with the local backend only (Dask cannot stop a "
                         "running task); drop --timeout or use --backend local")
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        preset = PRESETS[preset]
    if cv is not None and cv != preset.cv:
        preset = dataclasses.replace(preset, name=f"{preset.name}-cv{cv}", cv=cv)
    if repeats != preset.repeats:
        preset = dataclasses.replace(preset, name=f"{preset.name}-x{repeats}", repeats=repeats)
    return preset


# --------------------------------------------------------------------------- public API
def run_benchmark(
    datasets=None,
    models=None,
    preset="default",
    *,
    cv=None,
    repeats=1,
    seed=0,
    n_jobs=1,
    device="auto",
    output=DEFAULT_OUTPUT,
    timeout=None,
    quiet=False,
    verbose=False,
    data_file=None,
    figures=True,
    backend="local",
    scheduler=None,
    threads=None,
):
    """Run models on datasets with the preset's protocol; return the comparison table.

    Units already recorded on this machine (same dataset, model, split and parameters) in
    ``<output>/records.jsonl`` are skipped, so an interrupted run resumes and a
    finished one only re-renders the tables and figures.

    Parameters
    ----------
    datasets, models : list of str, optional
        Registry names (default: all); a dataset may also be ``"folder:PATH"``, a
        folder with one sub-folder of images per class.
    preset : {"quick", "default", "full"} or Preset
    cv : int, optional
        Override the preset's number of folds.
    repeats : int
        Repeat the stratified K-fold split this many times, each with its own shuffle
        (seed, seed + 1, ...): more paired folds for the CV intervals and t-tests.
    seed : int
        Seeds the folds, the subsamples and every model.
    n_jobs : int
        Units run in parallel worker processes; each gets cores // n_jobs threads.
    device : {"auto", "cpu", "gpu"}
        Passed to the model factories (XGBoost: CUDA when available).
    output : path
        Directory for records.jsonl, tables and figures (default
        ``mnistbench-results``; it is checked for writing before any work starts).
        A run resumes only its own records there (see :class:`RecordStore`).
    timeout : float, optional
        Seconds per unit (more than 0) before it is stopped and recorded as timed out;
        None: no limit.
    quiet : bool
        No progress bar or status lines.
    verbose : bool
        Also Keras's per-epoch lines of every CNN unit (off by default: the progress bar
        and one line per finished unit are shown).
    data_file : path, optional
        Explicit MNIST file (see ``load_dataset``).
    figures : bool
        Also draw the figures.
    backend : {"local", "dask"}
        "local": worker processes on this machine. "dask": tasks on a Dask cluster
        (:mod:`mnistbench.dask_backend`); ``n_jobs`` workers of a LocalCluster, or
        the cluster at ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (implies ``backend="dask"``).
    threads : int, optional
        Thread-pool size of each worker (BLAS, OpenMP, XGBoost, forest, TensorFlow);
        default: this machine's cores // n_jobs (1 on a remote Dask cluster).

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, model), sorted by test accuracy within each dataset.
    """
    from mnistbench.datasets import DATASETS, FOLDER_PREFIX, load_dataset  # noqa: PLC0415
    from mnistbench.models import MODELS  # noqa: PLC0415
    from mnistbench.report import write_report  # noqa: PLC0415

    datasets = list(datasets or DATASETS)
    models = list(models or MODELS)
    if scheduler:
        backend = "dask"
    preset = check_run_options(datasets=datasets, models=models, preset=preset, cv=cv,
                               repeats=repeats, seed=seed, n_jobs=n_jobs, threads=threads,
                               timeout=timeout, device=device, backend=backend)
    out = Path(output)
    store = RecordStore(out / "records.jsonl")
    # Before any work: an output that cannot be written would lose every unit computed
    # (this also checks the folder: a file in its place, no write permission).
    check_writable_file(store.path)
    data_options = {"data_file": data_file} if data_file else {}
    if "mnist" in datasets:  # fetch/verify once, here, with a clear error if impossible
        load_dataset("mnist", verbose=not quiet, **data_options)
    fingerprints = {}
    for name in datasets:  # read (and cache) a folder once, here, with clear errors
        if name.startswith(FOLDER_PREFIX):
            ds = load_dataset(name, verbose=not quiet)
            smallest = int(np.unique(ds.y_train, return_counts=True)[1].min())
            if smallest < preset.cv:
                raise UsageError(
                    f"{name}: a class has only {smallest} training image(s), fewer than the "
                    f"{preset.cv} CV folds; add images or pass --cv {max(2, smallest)}"
                )
            fingerprints[name] = ds.extra["fingerprint"]

    # Workers and threads per worker, decided once: the units' model n_jobs and the
    # workers' thread-pool caps must agree, or parallel units oversubscribe the cores.
    if backend == "dask" and not scheduler:
        n_workers = n_jobs if n_jobs > 1 else (os.cpu_count() or 1)  # a LocalCluster here
    else:
        n_workers = n_jobs
    threads = threads or (1 if scheduler else _threads_for(n_workers))
    units = plan_units(datasets, models, preset, seed=seed, device=device,
                       threads=threads, verbose=0 if quiet else (2 if verbose else 1),
                       fingerprints=fingerprints)
    # Resume only this folder's own work, made on this machine: records made elsewhere
    # (the reference results shipped in a clone's results/, say) are recomputed, so a
    # table never passes them off as yours.
    planned = {u.key for u in units}  # exactly this run's units: no stale parameters
    own = store.own_records(host_description())
    done = {record_key(r) for r in own if r.get("status") == "ok"}
    # Final fits (the largest training sets) first, so that parallel workers do not end
    # with one long unit running alone.
    todo = sorted((u for u in units if u.key not in done), key=lambda u: u.split != "test")
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"mnistbench: preset {preset.name} ({preset.description}); {len(units)} units, "
        f"{len(units) - len(todo)} already recorded, {len(todo)} to run; records in {store.path}")
    foreign = sum(record_key(r) in planned for r in store.load()) - sum(
        record_key(r) in planned for r in own)
    if foreign:
        say(f"  {foreign} record(s) in {store.path} were not made by runs of this folder on this "
            "machine (shipped reference results, or copied in): they are recomputed, never "
            "shown as yours")

    started = time.monotonic()
    bar = None
    if todo and not quiet:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(todo), unit="unit", desc="run-all", file=sys.stderr)

    def on_record(r):
        if bar is not None:
            if r["status"] == "ok":
                msg = (f"[ok] {r['dataset']}/{r['model']}/{r['split']}: accuracy "
                       f"{100 * r['accuracy']:.2f} %, fit {r['fit_seconds']:.1f} s on {r['device']}")
            else:
                msg = f"[{r['status']}] {r['dataset']}/{r['model']}/{r['split']}: {r.get('error', '')}"
            bar.write(msg, file=sys.stderr)
            bar.update(1)

    try:
        if backend == "dask":
            from mnistbench.dask_backend import run_units_dask  # noqa: PLC0415

            statuses = run_units_dask(todo, store, scheduler=scheduler, n_workers=n_workers,
                                      threads=threads,
                                      data_options=data_options, on_record=on_record,
                                      say=None if bar is None else bar.write)
        else:
            statuses = run_units(todo, store, n_jobs=n_jobs, timeout=timeout,
                                 data_options=data_options, on_record=on_record, threads=threads)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()  # before the message, so it is not drawn over
        say("interrupted: finished units are recorded; run the same command again to resume")
        raise
    finally:
        if bar is not None:
            bar.close()
    if statuses.get("failed") or statuses.get("timeout"):
        say(f"{statuses.get('failed', 0)} unit(s) failed, {statuses.get('timeout', 0)} timed out: "
            "see the status column and records.jsonl")

    df = write_report([r for r in store.own_records() if record_key(r) in planned], out,
                      preset.name, seed, figures=figures)
    minutes = (time.monotonic() - started) / 60
    say(f"{len(todo)} unit(s) run in {minutes:.1f} min; tables and figures written to {out}/")
    return df
