"""The local runner: units in worker processes, each stoppable and replaceable.

A unit that hangs past ``timeout`` seconds is stopped and recorded as timed out, and a
crash (even a segfault) is recorded as failed while the run goes on. Workers never
outlive the run: they leave on their own when the parent process disappears.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import wait

from mnistbench.errors import MnistbenchError, UsageError
from mnistbench.harness.execute import failed_record, record_unit
from mnistbench.harness.store import RecordStore

__all__ = ["EXIT_UNGUARDED", "run_units", "thread_env"]

#: Exit code of a worker that found itself re-running the user's script (no
#: ``if __name__ == "__main__":`` guard around the call that started the run).
EXIT_UNGUARDED = 86


def thread_env(threads, device="auto") -> dict:
    """Environment that caps a worker's thread pools (BLAS, OpenMP, TensorFlow) at
    ``threads``, and hides GPUs for ``device="cpu"``; set before frameworks load."""
    env = {}
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS"):
            env[var] = str(threads)
        # Two, not one: TensorFlow's executor can wait forever with a single inter-op
        # thread (tensorflow/tensorflow#38969); a fit of the CNN in a one-thread worker hung
        # minutes into its training. The second thread mostly sleeps.
        env["TF_NUM_INTEROP_THREADS"] = "2"
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


@contextlib.contextmanager
def _environ(env):
    """``os.environ`` with ``env`` set, for starting a process that inherits it: a
    worker's thread caps must be in place before it imports NumPy, OpenMP or Keras,
    which read them once, at load."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_main(conn, data_options, parent_pid):
    """Worker loop: receive a Unit, send back its record (or the error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
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


@contextlib.contextmanager
def _spawnable_main():
    """A spawned worker imports the main module again from its file; a main module whose
    ``__file__`` is no file (a script given on standard input, ``<stdin>``) would make
    every worker fail to start, so it is left out while workers start, as for ``-c``, a
    notebook or an interactive session."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if (main is None or getattr(main, "__spec__", None) is not None or file is None
            or os.path.isfile(file)):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = file


class _Worker:
    def __init__(self, ctx, threads, data_options, device="auto"):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, data_options, os.getpid()),
            # Not daemonic: joblib refuses to parallelise inside daemonic processes
            # (random forest would silently run on one core). Workers still never
            # outlive a run: they are stopped in run_units' finally and exit on their
            # own when the parent process disappears.
            daemon=False,
        )
        with _environ(thread_env(threads, device)), _spawnable_main():
            self.process.start()
        child.close()
        self.unit = None
        self.started = None
        self.ready = False

    def receive(self):
        """The record this worker sent, or None (nothing, or its "ready" message)."""
        if not self.conn.poll():
            return None
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            return None
        if message == "ready":
            self.ready = True
            return None
        return message if self.unit else None

    def lost(self, timeout):
        """The record of a unit this worker will not finish (it died, or ran out of
        time), or None."""
        if self.unit and not self.process.is_alive():
            return failed_record(self.unit, f"worker process died (exit code "
                                 f"{self.process.exitcode}); out of memory or a crash in "
                                 "native code")
        if self.unit and timeout and time.monotonic() - self.started > timeout:
            return failed_record(self.unit, f"stopped after {timeout:g} s (--timeout)",
                                 status="timeout")
        return None

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


def run_units(units, store: RecordStore, layout, timeout=None, data_options=None,
              on_record=None):
    """Run ``units`` in worker processes, appending each record to ``store``.

    Parameters
    ----------
    units : list of Unit
        Units already ``ok`` in ``store`` must be filtered out by the caller.
    layout : WorkerLayout
        ``layout.workers`` parallel worker processes, each limiting its thread pools to
        ``layout.threads`` (:func:`~mnistbench.harness.options.worker_layout`).
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
    n_jobs = max(1, min(layout.workers, len(pending)))
    device = pending[0].device

    def new_worker():
        return _Worker(ctx, layout.threads, data_options, device)

    workers = [new_worker() for _ in range(n_jobs)]

    def finish(worker, record):
        store.append(record)
        statuses[record.status] += 1
        worker.unit = worker.started = None
        if on_record:
            on_record(record)

    try:
        while pending or any(w.unit for w in workers):
            ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers],
                         _wait_time(workers, timeout))
            for i, w in enumerate(workers):
                if w.conn in ready and (record := w.receive()) is not None:
                    finish(w, record)
                if not w.process.is_alive() and not w.unit:
                    if pending:  # died while starting: replace it
                        if w.process.exitcode not in (0, None) and not w.ready:
                            raise _start_error(w.process.exitcode)
                        workers[i] = new_worker()
                    continue
                if (record := w.lost(timeout)) is not None:
                    w.stop(kill=True)
                    finish(w, record)
                    workers[i] = w = new_worker()
                if not w.unit and w.ready and pending:
                    w.submit(pending.pop(0))
    finally:
        for w in workers:
            w.stop(kill=bool(w.unit))
    return statuses


def _wait_time(workers, timeout):
    """Seconds to wait for a message: until the first busy unit's deadline, at most 5."""
    deadlines = [w.started + timeout - time.monotonic() for w in workers if w.unit and timeout]
    return max(0.05, min([5.0, *deadlines]))


def _start_error(exitcode):
    if exitcode == EXIT_UNGUARDED:
        return UsageError(
            "a worker process re-ran your script and reached the call that starts the run "
            "again: put that call under `if __name__ == \"__main__\":` (worker processes "
            "import the main module anew)")
    return MnistbenchError(f"a worker process could not start (exit code {exitcode}); "
                           "out of memory, or a broken installation: try "
                           "`python -m mnistbench info`")
