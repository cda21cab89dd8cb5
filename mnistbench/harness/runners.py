"""One runner protocol: local worker processes and a Dask cluster run a list of units the
same way, ``runner.run(units, store, on_record)``, with the worker and thread layout of the
run's :class:`~mnistbench.harness.options.RunSettings`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Protocol

from mnistbench.harness.local import run_units
from mnistbench.harness.options import RunOptions, RunSettings, WorkerLayout
from mnistbench.log import logger

__all__ = ["DaskRunner", "LocalRunner", "Runner", "make_runner"]


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
        return run_units(units, store, self.layout, timeout=self.options.timeout,
                         data_options=self.options.data_options, on_record=on_record)


@dataclasses.dataclass(frozen=True)
class DaskRunner:
    """A Dask cluster: a LocalCluster of ``layout.workers`` processes, or the scheduler
    of ``options.scheduler`` (:func:`mnistbench.harness.dask_runner.run_units_dask`)."""

    options: RunOptions
    layout: WorkerLayout

    def run(self, units, store, on_record=None) -> Counter:
        from mnistbench.harness.dask_runner import run_units_dask  # noqa: PLC0415 - Dask

        return run_units_dask(units, store, self.options, self.layout, on_record=on_record,
                              say=logger.info)


def make_runner(settings: RunSettings) -> Runner:
    """The runner of the settings' backend, with their layout."""
    kind = DaskRunner if settings.options.backend == "dask" else LocalRunner
    return kind(settings.options, settings.layout)
