"""``run_benchmark``: the public entry of a run, in its steps.

1. :func:`prepared_run`: check every option, the output folder and the data before any
   work, then hold the folder's lock;
2. :func:`plan_todo`: the run's units, less those this folder already holds;
3. :func:`execute_units`: run them (local processes or Dask), each record stored as it ends;
4. the report, from this folder's own records of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

from mnistbench.data.datasets import (
    DATASETS,
    DEFAULT_DATASETS,
    FOLDER_PREFIX,
    Dataset,
    is_user_dataset,
    load_dataset,
    stage_dataset,
)
from mnistbench.errors import UsageError
from mnistbench.estimators.user_models import check_not_loading_a_models_file, resolve_models
from mnistbench.evaluation.records import Record
from mnistbench.evaluation.robustness import corrupted_sets
from mnistbench.harness.execute import stratified_subsample
from mnistbench.harness.local import EXIT_UNGUARDED
from mnistbench.harness.options import RunOptions, names_of
from mnistbench.harness.runners import Runner, make_runner
from mnistbench.harness.runs import recorded_run, render_run
from mnistbench.harness.smoke import smoke_check
from mnistbench.harness.store import RecordStore
from mnistbench.harness.units import plan_units
from mnistbench.hostinfo import host_description
from mnistbench.log import logger, progress_logging
from mnistbench.reporting.robustness_tables import write_corruption_figure

__all__ = ["check_not_bootstrapping", "prepared_run", "run_benchmark", "run_with_options",
           "staged_datasets"]


def run_benchmark(datasets=None, models=None, preset="default", **options):
    """Run models on datasets with the preset's protocol; return the comparison table.

    Per (dataset, model): stratified K-fold cross-validation on the training split
    (optionally a stratified subsample of it), then a final fit on the training split
    scored on the held-out test split. Units already recorded by this folder's runs on
    this machine (same dataset, model, split and parameters) in
    ``<output>/records.jsonl`` are skipped, so an interrupted run resumes and a finished
    one only re-renders the tables and figures.

    Parameters
    ----------
    datasets : list of str or Dataset, optional
        Registry names (default ``DEFAULT_DATASETS``, MNIST and digits; ``"all"`` names
        every registered one, Fashion-MNIST included), ``"folder:PATH"`` (one sub-folder
        of images per class), ``"npz:PATH"`` (arrays in Keras's layout) or
        :class:`~mnistbench.Dataset` objects of your own (their arrays checked as an npz
        file's, their ``name`` naming them in the records).
    models : list or dict, optional
        Registry names (default: every built-in model; ``"all"`` adds the models of
        installed packages' ``mnistbench.models`` entry points), your own models as
        ``(name, estimator_or_factory)`` pairs or a ``{name: estimator_or_factory}``
        mapping (wrap one in :class:`~mnistbench.CustomModel` to set its family or tuning
        grid), and the models of :func:`~mnistbench.load_models_file`. A user's
        estimator is cloned for each unit; a factory is called with the
        ``random_state``, ``device`` and ``n_jobs`` it accepts.
    preset : {"quick", "default", "full"} or Preset
    **options
        The fields of :class:`~mnistbench.harness.RunOptions`:

{options}

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, model), sorted by test accuracy within each dataset.
    """
    return run_with_options(datasets, models,
                            RunOptions.from_keywords("run_benchmark", preset=preset, **options))


run_benchmark.__doc__ = run_benchmark.__doc__.replace("{options}", RunOptions.docs())


def run_with_options(datasets, models, opts: RunOptions):
    """:func:`run_benchmark` with its options as one :class:`RunOptions` (the command
    line's, passed as they are)."""
    check_not_bootstrapping()
    check_not_loading_a_models_file("run_benchmark")
    with progress_logging(opts.quiet):
        datasets, sources = staged_datasets(datasets)
        return _run(names_of(datasets, "datasets", DATASETS, logger.info, DEFAULT_DATASETS),
                    resolve_models(models, logger.info), opts, sources)


def staged_datasets(datasets):
    """``datasets`` with each :class:`~mnistbench.Dataset` object replaced by its name, and
    ``{name: "npz:PATH"}``: where the workers read its arrays (checked and saved once, by
    content; :func:`~mnistbench.data.datasets.stage_dataset`)."""
    if isinstance(datasets, Dataset):
        datasets = [datasets]
    if datasets is None or isinstance(datasets, str) or not isinstance(datasets, (list, tuple)):
        return datasets, {}
    names, sources = [], {}
    for item in datasets:
        if not isinstance(item, Dataset):
            names.append(item)
            continue
        source = stage_dataset(item)
        if sources.setdefault(item.name, source) != source:
            raise UsageError(f"two different Dataset objects are named {item.name!r}; give "
                             "them different names (dataclasses.replace(ds, name=...))")
        names.append(item.name)
    return names, sources


def _run(datasets, models, opts: RunOptions, sources=None):
    with prepared_run(datasets, models, opts, sources=sources) as (settings, store, fingerprints):
        preset, runner = settings.preset, make_runner(settings)
        with recorded_run(store, "benchmark", opts, preset, datasets, models,
                          fingerprints) as run:
            units = plan_units(datasets, models, preset, seed=opts.seed, device=opts.device,
                               threads=settings.layout.threads,
                               verbose=0 if opts.quiet else (2 if opts.verbose else 1),
                               fingerprints=fingerprints, tune=opts.tune, sources=sources)
            todo, reused = plan_todo(units, store, preset)
            run.plan(units, reused)
            started = time.monotonic()
            statuses = execute_units(todo, store, runner, opts.quiet)
        if statuses.get("failed") or statuses.get("timeout"):
            logger.info(f"{statuses.get('failed', 0)} unit(s) failed, "
                        f"{statuses.get('timeout', 0)} timed out: see the status column and "
                        "records.jsonl")
        df = render_run(run.entry, store.load(), opts.output, figures=opts.figures)
    minutes = (time.monotonic() - started) / 60
    logger.info(f"{len(todo)} unit(s) run in {minutes:.1f} min; tables and figures written "
                f"to {Path(opts.output)}/ (run {run.entry['run']})")
    return df


def check_not_bootstrapping():
    """Leave a worker process quietly if it is re-running the user's script.

    Worker processes are started with "spawn", which imports the caller's main module
    again; a script that calls ``run_benchmark`` outside ``if __name__ == "__main__":``
    would call it again in every worker. That worker exits at once with
    :data:`~mnistbench.harness.local.EXIT_UNGUARDED`, and the run in the parent stops with
    one error that names the fix.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        os._exit(EXIT_UNGUARDED)


@contextlib.contextmanager
def prepared_run(datasets, models, opts: RunOptions, derive=None, sources=None):
    """Everything that can fail before any work (options, output folder, data), then the
    folder's lock for the whole run: yields ``(settings, store, fingerprints)``, the
    :class:`~mnistbench.harness.options.RunSettings` resolved once from ``opts``.
    ``derive(preset)``: the preset the run really uses (the learning curve's).
    ``sources``: ``{name: "npz:PATH"}`` of the Dataset objects (:func:`staged_datasets`)."""
    sources = sources or {}
    settings = opts.check(datasets, models, staged=sources)
    _check_output_outside_folders(datasets, opts.output)
    if derive is not None:
        settings = dataclasses.replace(settings, preset=derive(settings.preset))
    preset = settings.preset
    store = RecordStore(Path(opts.output) / "records.jsonl")
    # An output that cannot be written would lose every unit computed (this also checks
    # the folder: a file in its place, no write permission, a FIFO or a device for the
    # records, a damaged owner file).
    store.check()
    store.check_own()  # a reference folder is read-only to runs
    loaded = check_data(datasets, preset, opts, sources)
    smoke_check(models, loaded, preset, opts.tune)  # a model that would fail every unit
    fingerprints = {name: ds.extra["fingerprint"] for name, ds in loaded.items()
                    if is_user_dataset(name) or name in sources}
    with store.writer(wait=opts.wait, say=logger.info):
        if preset.robustness:  # corrupted test sets made once here, not by every worker
            for name, ds in loaded.items():
                sets = corrupted_sets(name, ds, preset.robustness, opts.seed, log=logger.info)
                if opts.figures:  # what the corruptions do, on this dataset's first subset image
                    write_corruption_figure(name, ds.X_test[sets["indices"][0]], opts.output,
                                            opts.seed, ds.pixel_max)
        loaded.clear()  # the workers load their own copies
        yield settings, store, fingerprints


def _check_output_outside_folders(datasets, output):
    """An output folder inside a folder dataset would become one of its classes (its
    figures read as images) on the next run: refused before any work."""
    out = Path(output).expanduser().resolve()
    for name in datasets:
        if not name.startswith(FOLDER_PREFIX):
            continue
        root = Path(name[len(FOLDER_PREFIX):]).expanduser().resolve()
        if out == root or root in out.parents:
            raise UsageError(f"--output {output} lies inside the folder dataset {name}, whose "
                             "sub-folders are its classes: its tables and figures would be "
                             f"read as images next time; choose an --output outside {root}")


def check_data(datasets, preset, opts: RunOptions, sources=None) -> dict:
    """Load every dataset once (MNIST fetched and verified, a folder read and cached),
    with clear errors, and check that each class of the CV sample has at least one image
    per fold. Returns the loaded datasets by name."""
    loaded = {}
    sources = sources or {}
    for name in datasets:
        options = {} if is_user_dataset(name) or name in sources else opts.data_options
        ds = loaded[name] = load_dataset(sources.get(name, name), verbose=not opts.quiet,
                                         **options)
        if not preset.cv:
            continue
        _, y_cv = stratified_subsample(ds.X_train, ds.y_train, preset.cv_subsample, opts.seed)
        smallest = int(np.unique(y_cv, return_counts=True)[1].min())
        if smallest < preset.cv:
            more = "add images or " if name.startswith(FOLDER_PREFIX) else ""
            raise UsageError(
                f"{name}: a class has only {smallest} image(s) in the cross-validation "
                f"sample, fewer than the {preset.cv} CV folds; {more}pass --cv "
                f"{max(2, smallest)} or fewer"
            )
    return loaded


def plan_todo(units, store: RecordStore, preset):
    """``(todo, reused)``: the units still to run, final fits first, and ``{key: Record}``
    of those this folder already holds. Only this folder's own ``ok`` work made on this
    machine is reused (the newest record of a key): records made elsewhere are never
    passed off as yours (a folder holding only those is refused before any work)."""
    reused = {}
    for r in store.own_records(host_description()):
        if r.ok:
            reused[r.unit_key] = r
    planned = {u.key for u in units}
    reused = {k: r for k, r in reused.items() if k in planned}
    todo = sorted((u for u in units if u.key not in reused), key=_longest_first)
    logger.info(f"mnistbench: preset {preset.name} ({preset.summary}); {len(units)} units, "
                f"{len(units) - len(todo)} already recorded, {len(todo)} to run; records in "
                f"{store.path}")
    return todo, reused


def _longest_first(unit):
    """Sort key: final fits (the largest training sets) first, the CNNs first among them,
    so that parallel workers do not end with one long unit running alone."""
    return unit.split != "test", unit.family != "deep"


def _unit_line(r: Record) -> str:
    if r.ok:
        chose = f", chose {r.search['best_params']}" if r.search else ""
        return (f"[ok] {r.dataset}/{r.model}/{r.split}: accuracy {100 * r.accuracy:.2f} %, "
                f"fit {r.fit_seconds:.1f} s on {r.device}" + chose)
    return f"[{r.status}] {r.dataset}/{r.model}/{r.split}: {r.error or ''}"


def execute_units(todo, store, runner: Runner, quiet=False, desc="run-all"):
    """Run the units through ``runner`` with a progress bar (unless ``quiet``); return the
    Counter of statuses."""
    bar = None
    if todo and not quiet:
        from tqdm.auto import tqdm  # noqa: PLC0415 - only with something to show

        bar = tqdm(total=len(todo), unit="unit", desc=desc, file=sys.stderr)

    def on_record(r):
        logger.info(_unit_line(r))
        if bar is not None:
            bar.update(1)

    try:
        return runner.run(todo, store, on_record)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()  # before the message, so it is not drawn over
        logger.info("interrupted: finished units are recorded; run the same command again "
                    "to resume")
        raise
    finally:
        if bar is not None:
            bar.close()
