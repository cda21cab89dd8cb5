"""``learning_curve``: every model at growing training sizes, in the run-all record store.

At what data size does a CNN beat the classic models? Each point is one *unit*
(dataset, model, split ``n<size>-r<rep>``): a fit on a stratified subsample of ``size``
training images (seed ``seed + rep - 1``, which also seeds the model), scored on the
whole test split. Points are stored in ``<output>/records.jsonl`` like run-all's units,
so a killed run loses only the points in progress, and either backend runs them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from mnistbench.data.datasets import DATASETS, DEFAULT_DATASETS, is_user_dataset, load_dataset
from mnistbench.errors import UsageError
from mnistbench.estimators.user_models import (
    ModelSpec,
    builtin_spec,
    check_not_loading_a_models_file,
    resolve_models,
)
from mnistbench.harness.options import MAX_UNITS, RunOptions, check_whole, names_of
from mnistbench.harness.presets import Preset
from mnistbench.harness.run import (
    check_not_bootstrapping,
    execute_units,
    plan_todo,
    prepared_run,
)
from mnistbench.harness.runners import make_runner
from mnistbench.harness.runs import recorded_run, render_run
from mnistbench.harness.units import Unit, model_budget, params_hash
from mnistbench.log import logger, progress_logging
from mnistbench.reporting.curve_tables import curve_point, curve_split

__all__ = ["CURVE_SIZES", "curve_units", "curve_with_options", "learning_curve", "repeats_at"]

#: Training sizes per dataset; the last point of a dataset is its whole training split.
CURVE_SIZES = {
    "mnist": (100, 300, 1000, 3000, 10000, 30000, 60000),
    "digits": (100, 300, 1000, 1347),
}
_GEOMETRIC = (100, 300, 1000, 3000, 10000, 30000, 100000, 300000)


def repeats_at(size, seeds) -> int:
    """Subsamples (each with its own seed) at ``size``: ``seeds`` up to 1,000 images,
    fewer above (their spread is small and their fits are long), one from 30,000."""
    if size <= 1000:
        return seeds
    return max(1, min(seeds, 2)) if size < 30000 else 1


def _sizes(dataset, n_train, sizes):
    chosen = sorted(set(sizes or CURVE_SIZES.get(dataset, _GEOMETRIC)))
    kept = [s for s in chosen if s < n_train]
    if sizes is None or any(s >= n_train for s in chosen):
        kept.append(n_train)  # the whole split ends the curve
    return kept


def curve_units(datasets, models, preset: Preset, n_train, sizes=None, seeds=3, seed=0,
                device="auto", threads=None, verbose=0) -> list[Unit]:
    """Every point of the curves: per dataset, model and size, ``repeats_at`` subsamples.
    ``n_train``: ``{dataset: size of its training split}``."""
    units = []
    for dataset in datasets:
        for model in models:
            # a name the registry does not know is refused here, as before any work
            name, _, custom, params = model_budget(
                model if isinstance(model, ModelSpec) else builtin_spec(model), preset)
            h = params_hash(dataset, name, preset, seed, params,
                            identity=custom and custom.identity)
            for size in _sizes(dataset, n_train[dataset], sizes):
                reps = 1 if size >= n_train[dataset] else repeats_at(size, seeds)
                units += [Unit(dataset, name, curve_split(size, r), preset, seed, params,
                               h, device, threads, verbose, spec=custom)
                          for r in range(1, reps + 1)]
    return units


def learning_curve(datasets=None, models=None, sizes=None, seeds=3, **options):
    """Fit every model at growing training sizes; write the curve figures and tables.

    Parameters
    ----------
    datasets : list of str, optional
        Registry names (default: MNIST and digits).
    models : list or dict, optional
        As :func:`~mnistbench.run_benchmark`'s: names, your own ``(name, estimator)``
        pairs or mapping (default: every built-in model).
    sizes : list of int, optional
        Training sizes (default ``CURVE_SIZES``: 100 to 60,000 for MNIST, 100 to the
        whole split for digits). A size at or above the split's size is the whole split.
    seeds : int, default=3
        Stratified subsamples, each with its own seed, at sizes up to 1,000 (2 below
        30,000, 1 above: ``repeats_at``); the figure's band spans them.
    **options
        The fields of :class:`~mnistbench.harness.RunOptions` (``output``, ``n_jobs``,
        ``backend``...). ``preset`` sets the models' budgets (its ``model_params``);
        ``cv`` and ``repeats`` do not apply.

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, model, size): mean and spread of test accuracy, fit seconds.
    """
    return curve_with_options(datasets, models, sizes, seeds,
                              RunOptions.from_keywords("learning_curve", **options))


def curve_with_options(datasets, models, sizes, seeds, opts: RunOptions):
    """:func:`learning_curve` with its options as one :class:`RunOptions` (the command
    line's, passed as they are)."""
    check_not_bootstrapping()
    check_not_loading_a_models_file("learning_curve")
    if opts.cv is not None or opts.repeats != 1 or opts.tune:
        raise UsageError("cv, repeats and tune do not apply to a learning curve (its points "
                         "are scored on the test split, and a tuned point would need nested "
                         "CV at every size); use seeds= for more subsamples")
    check_whole(seeds, "seeds", 1, "it is how many subsamples are drawn at each small size")
    if sizes is not None and not sizes:
        raise UsageError("sizes=[]: give at least one training size, or leave it out")
    for size in sizes or ():
        check_whole(size, "size", 10, "a stratified subsample needs one image per class")
    datasets = names_of(datasets, "datasets", DATASETS, logger.info, DEFAULT_DATASETS)
    models = resolve_models(models, logger.info)
    _check_size(datasets, models, sizes, seeds)
    if any(is_user_dataset(name) for name in datasets):  # before any work
        raise UsageError("learning-curve runs on registered datasets (mnist, digits, "
                         "fashion-mnist); the curve of a folder or an npz file is not "
                         "supported yet")
    with progress_logging(opts.quiet):
        return _run(datasets, models, sizes, seeds, opts)


def _check_size(datasets, models, sizes, seeds) -> None:
    """The most units the curve could plan (every size drawn ``seeds`` times), capped as
    run-all's plans are, before any work."""
    most = sum(len(set(sizes or CURVE_SIZES.get(d, _GEOMETRIC))) + 1 for d in datasets)
    n_units = most * len(models) * seeds
    if n_units > MAX_UNITS:
        raise UsageError(f"this learning curve could plan {n_units:,} units, more than "
                         f"{MAX_UNITS:,}; lower --seeds ({seeds:,}) or give fewer --sizes, "
                         "models or datasets")


def curve_preset(base: Preset) -> Preset:
    """The preset of a learning curve: ``base``'s model budgets, no CV, no robustness."""
    return dataclasses.replace(
        base, name="learning-curve" + ("" if base.name == "default" else f"-{base.name}"),
        cv=0, cv_subsample=None, train_subsample=None, robustness=None,
        description=f"learning curve; model budgets of the {base.name} preset")


def _run(datasets, models, sizes, seeds, opts):
    with prepared_run(datasets, models, opts, derive=curve_preset) as (settings, store, _):
        n_train = {d: len(load_dataset(d, **opts.data_options).y_train) for d in datasets}
        preset, runner = settings.preset, make_runner(settings)
        with recorded_run(store, "learning-curve", opts, preset, datasets, models, {}) as run:
            units = curve_units(datasets, models, preset, n_train, sizes, seeds, opts.seed,
                                opts.device, settings.layout.threads,
                                0 if opts.quiet else (2 if opts.verbose else 1))
            todo, reused = plan_todo(units, store, preset)
            run.plan(units, reused)
            # Small points first: the whole curve's shape appears early, the long fits last.
            todo.sort(key=lambda u: curve_point(u.split)[0])
            started = time.monotonic()
            execute_units(todo, store, runner, opts.quiet, desc="learning-curve")
        df = render_run(run.entry, store.load(), opts.output, figures=opts.figures)
    logger.info(f"{len(todo)} point(s) run in {(time.monotonic() - started) / 60:.1f} min; "
                f"learning-curve tables and figures written to {Path(opts.output)}/ "
                f"(run {run.entry['run']})")
    return df
