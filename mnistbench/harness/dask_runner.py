"""Run units on a Dask cluster (``run-all --backend dask [--scheduler ADDRESS]``).

Each (dataset, model, split) unit is one ``dask.distributed`` task running
:func:`mnistbench.harness.execute.record_unit` on a worker; records come back to
this process and are appended to the same record store as a local run, in the
order they finish, so an interrupted distributed run resumes like a local one.

* No address: a ``LocalCluster`` of single-threaded worker processes on this
  machine, their thread pools capped through the environment (see
  :func:`mnistbench.harness.local.thread_env`) so that nothing oversubscribes.
* An address (``tcp://host:8786``): an existing cluster. Each task caps BLAS and
  OpenMP pools with threadpoolctl and XGBoost through ``n_jobs``; start the
  workers with ``--nthreads 1`` and ``OMP_NUM_THREADS`` / ``TF_NUM_INTRAOP_THREADS``
  set (README shows how).
* A worker lost mid-unit (killed, out of memory, machine gone): the scheduler
  runs the unit again on another worker (``distributed.scheduler.allowed-failures``,
  3 by default); past that the unit is recorded as failed and the run goes on.
* Every worker must have mnistbench and the data (MNIST cache or
  ``$MNISTBENCH_DATA``; a folder dataset at the same path).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter

from threadpoolctl import threadpool_limits  # a scikit-learn dependency

from mnistbench.harness.execute import failed_record, record_unit
from mnistbench.harness.local import thread_env
from mnistbench.harness.options import RunOptions, WorkerLayout
from mnistbench.harness.store import RecordStore

__all__ = ["run_units_dask"]


def _run_on_worker(unit, data_options, threads):
    with threadpool_limits(limits=threads):
        return record_unit(unit, data_options)


def _import_distributed():
    try:
        from dask import distributed  # noqa: PLC0415 - loaded lazily, only when used
    except ImportError:
        raise ImportError(
            "--backend dask needs dask.distributed: pip install 'mnistbench[dask]' "
            "(or pip install 'dask[distributed]')"
        ) from None
    return distributed


def run_units_dask(units, store: RecordStore, options: RunOptions, layout: WorkerLayout, *,
                   on_record=None, say=None):
    """Run ``units`` on a Dask cluster, appending each record to ``store``.

    Parameters
    ----------
    options : RunOptions
        ``options.scheduler``: address of a running scheduler; None starts a
        LocalCluster here. ``options.data_file``: the MNIST file every worker reads.
    layout : WorkerLayout
        ``layout.workers``: workers of the LocalCluster (a remote scheduler has its own);
        ``layout.threads``: the thread-pool size of each unit
        (:func:`~mnistbench.harness.options.worker_layout`).

    Returns
    -------
    Counter of record statuses.
    """
    distributed = _import_distributed()
    statuses = Counter()
    if not units:
        return statuses
    cluster = None
    scheduler, data_options = options.scheduler, options.data_options
    threads = layout.threads
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
    else:
        n_workers = max(1, min(layout.workers, len(units)))
        import dask  # noqa: PLC0415 - loaded lazily, only when used

        # Non-daemonic worker processes: joblib will not parallelise inside daemonic
        # ones (a random forest would silently use one core).
        with dask.config.set({"distributed.worker.daemon": False}):
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                dashboard_address=None, env=thread_env(threads, units[0].device),
            )
        client = distributed.Client(cluster)
    quiet = [logging.getLogger(n) for n in ("distributed", "distributed.client")]
    levels = [q.level for q in quiet]
    try:
        if say:
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            say(f"dask: {n} worker(s) at {client.scheduler.address}, {threads} thread(s) per unit")
        address, lost = client.scheduler.address, None
        futures = {}
        for unit in units:
            future = client.submit(_run_on_worker, unit, data_options, threads, pure=False,
                                   key=f"mnistbench-{unit.dataset}-{unit.model}-{unit.split}-"
                                       f"{unit.params_hash}")
            futures[future] = unit
        for future in distributed.as_completed(futures):
            record, scheduler_lost = _record_of(future, futures[future], client, distributed)
            if scheduler_lost and not lost:  # its client's reconnect tracebacks say no more
                lost = address
                for q in quiet:
                    q.setLevel(logging.CRITICAL)
            store.append(record)
            statuses[record.status] += 1
            if on_record:
                on_record(record)
        if lost and say:
            say(f"the Dask scheduler at {lost} was lost: {statuses['failed']} unit(s) recorded "
                "as failed, every finished unit kept; start it again and run the same command "
                "to resume")
    finally:
        with contextlib.suppress(Exception):  # a lost scheduler: closing only logs
            client.close()
        if cluster is not None:
            cluster.close()
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    return statuses


def _record_of(future, unit, client, distributed):
    """``(record, scheduler lost)`` of a finished future: the unit's own record, or a
    failed one saying in one line why there is none."""
    try:
        return future.result(), False
    except distributed.KilledWorker as exc:
        return failed_record(unit, f"the worker running this unit was lost repeatedly "
                                   f"({exc}); out of memory, or a crash in native code"), False
    except Exception as exc:  # noqa: BLE001 - e.g. a worker that cannot unpickle
        if _scheduler_lost(client, exc):
            address = getattr(client.scheduler, "address", "?")
            return failed_record(unit, f"the Dask scheduler at {address} was lost during "
                                       "the run"), True
        return failed_record(unit, " ".join(f"{type(exc).__name__}: {exc}".split())), False


def _scheduler_lost(client, exc) -> bool:
    """Whether ``exc`` (a future's) means the scheduler itself is gone."""
    return ("scheduler-connection-lost" in str(exc)
            or getattr(client, "status", "running") not in ("running", "connecting"))
