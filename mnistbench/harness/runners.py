"""One runner protocol: local worker processes and a Dask cluster run a list of units the
same way, ``runner.run(units, store, on_record)``, with a worker and thread layout decided
once from the run's options."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import Protocol

from mnistbench.estimators.devices import nvidia_gpus
from mnistbench.harness.local import run_units, threads_for
from mnistbench.harness.options import MAX_AUTO_WORKERS, RunOptions
from mnistbench.log import logger

__all__ = ["DaskRunner", "LocalRunner", "Runner", "WorkerLayout", "auto_workers", "make_runner",
           "worker_layout"]


@dataclasses.dataclass(frozen=True)
class WorkerLayout:
    """Worker processes, and the thread pool of each: the units' model ``n_jobs`` and the
    workers' thread caps come from here, so parallel units never oversubscribe the cores."""

    workers: int
    threads: int


class Runner(Protocol):
    """Runs units, appends each record to the store as it ends, calls ``on_record`` with
    it; returns the Counter of statuses."""

    layout: WorkerLayout

    def run(self, units, store, on_record=None) -> Counter: ...


@dataclasses.dataclass(frozen=True)
class LocalRunner:
    """Worker processes on this machine (:func:`mnistbench.harness.local.run_units`)."""

    options: RunOptions
    layout: WorkerLayout

    def run(self, units, store, on_record=None) -> Counter:
        return run_units(units, store, n_jobs=self.layout.workers, timeout=self.options.timeout,
                         data_options=self.options.data_options, on_record=on_record,
                         threads=self.layout.threads)


@dataclasses.dataclass(frozen=True)
class DaskRunner:
    """A Dask cluster: a LocalCluster of ``layout.workers`` processes, or the scheduler
    of ``options.scheduler`` (:func:`mnistbench.harness.dask_runner.run_units_dask`)."""

    options: RunOptions
    layout: WorkerLayout

    def run(self, units, store, on_record=None) -> Counter:
        from mnistbench.harness.dask_runner import run_units_dask  # noqa: PLC0415 - Dask

        return run_units_dask(units, store, self.options, n_workers=self.layout.workers,
                              threads=self.layout.threads, on_record=on_record, say=logger.info)


def make_runner(options: RunOptions) -> Runner:
    """The runner of ``options.backend``, with its layout."""
    layout = WorkerLayout(*worker_layout(options))
    return (DaskRunner if options.backend == "dask" else LocalRunner)(options, layout)


def worker_layout(opts: RunOptions) -> tuple[int, int]:
    """Workers and threads per worker, decided once: the units' model n_jobs and the
    workers' thread-pool caps must agree, or parallel units oversubscribe the cores."""
    if opts.n_jobs is not None:
        n_workers = opts.n_jobs
    elif opts.scheduler:
        n_workers = 1  # a remote cluster has its own workers
    else:
        n_workers = auto_workers(opts.device)
    return n_workers, opts.threads or (1 if opts.scheduler else threads_for(n_workers))


def auto_workers(device="auto") -> int:
    """Worker processes when ``n_jobs`` is not given: one per core (at most
    ``MAX_AUTO_WORKERS``), each with one thread, on a CPU, because the units' libraries
    use a second thread poorly (libsvm not at all, the small CNNs for about a third more
    speed) and two units side by side do nearly twice the work; one worker with every core
    when a GPU computes the CNNs, which would otherwise share its memory between
    processes."""
    if device == "gpu" or (device == "auto" and nvidia_gpus()):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))
