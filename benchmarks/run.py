"""The one entry to the maintained benchmarks.

    python benchmarks/run.py --list               # each benchmark and what it measures
    python benchmarks/run.py NAME --help          # one benchmark's options
    python benchmarks/run.py NAME [OPTIONS]       # run it

Each writes what it measured, with the machine, into ``results/bench/`` through the one
writer in ``_common.py`` (``write_json``, ``write_page``). Speed claims are ratios measured
back to back in one run. At most ten benchmarks are maintained here: a one-off experiment
that answers a question becomes a decision page under ``docs/decisions/`` and its script
retires (git keeps it), and what is not a benchmark lives in ``tools/``.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The maintained benchmarks, each a module here with a ``main()`` reading ``sys.argv``.
BENCHMARKS = (
    "run_all_walltime",
    "same_answers",
    "test_suite_walltime",
    "models",
    "cnn_throughput",
    "cnn_overhead",
    "hog_throughput",
    "imaging_agreement",
    "cv_scaling",
    "plain_baseline",
)


def summary(name: str) -> str:
    """The first line of a benchmark's docstring, read without importing it."""
    tree = ast.parse((HERE / f"{name}.py").read_text())
    return (ast.get_docstring(tree) or "").splitlines()[0]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__.strip().splitlines()[0] + "\n")
        for name in BENCHMARKS:
            print(f"  {name:<20} {summary(name)}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"run.py: unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)} "
              "(--list says what each measures)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    module = importlib.import_module(name)
    sys.argv = [f"{Path(sys.argv[0]).name} {name}", *rest]
    return module.main() or 0


if __name__ == "__main__":
    sys.exit(main())
