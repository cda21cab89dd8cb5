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

import os
from collections import Counter

from threadpoolctl import threadpool_limits  # a scikit-learn dependency

from mnistbench.harness.execute import failed_record, record_unit
from mnistbench.harness.local import thread_env
from mnistbench.harness.options import RunOptions
from mnistbench.harness.records import RecordStore

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


def run_units_dask(units, store: RecordStore, options: RunOptions, *, n_workers=None,
                   threads=None, on_record=None, say=None):
    """Run ``units`` on a Dask cluster, appending each record to ``store``.

    Parameters
    ----------
    options : RunOptions
        ``options.scheduler``: address of a running scheduler; None starts a
        LocalCluster here. ``options.data_file``: the MNIST file every worker reads.
    n_workers : int, optional
        Workers of the LocalCluster (default: one per core).
    threads : int, optional
        Thread-pool size per unit (default: cores // n_workers here; 1 on a cluster).

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
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        threads = threads or 1
    else:
        n_workers = max(1, min(n_workers or os.cpu_count() or 1, len(units)))
        threads = threads or max(1, (os.cpu_count() or 1) // n_workers)
        import dask  # noqa: PLC0415 - loaded lazily, only when used

        # Non-daemonic worker processes: joblib will not parallelise inside daemonic
        # ones (a random forest would silently use one core).
        with dask.config.set({"distributed.worker.daemon": False}):
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                dashboard_address=None, env=thread_env(threads, units[0].device),
            )
        client = distributed.Client(cluster)
    try:
        if say:
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            say(f"dask: {n} worker(s) at {client.scheduler.address}, {threads} thread(s) per unit")
        futures = {}
        for unit in units:
            future = client.submit(_run_on_worker, unit, data_options, threads, pure=False,
                                   key=f"mnistbench-{unit.dataset}-{unit.model}-{unit.split}-"
                                       f"{unit.params_hash}")
            futures[future] = unit
        for future in distributed.as_completed(futures):
            unit = futures[future]
            try:
                record = future.result()
            except distributed.KilledWorker as exc:
                record = failed_record(unit, f"the worker running this unit was lost repeatedly "
                                             f"({exc}); out of memory, or a crash in native code")
            except Exception as exc:  # noqa: BLE001 - e.g. a worker that cannot unpickle
                record = failed_record(unit, f"{type(exc).__name__}: {exc}")
            store.append(record)
            statuses[record["status"]] += 1
            if on_record:
                on_record(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return statuses
