"""Run options, declared once: the CLI's flags, ``run_benchmark``'s keywords and the
runners all come from :class:`RunOptions`, and one check validates them before any
work starts."""

from __future__ import annotations

import dataclasses
import importlib.util
import numbers
import os
import re
from pathlib import Path

import numpy as np

from mnistbench.data.datasets import ALL_DATASETS, canonical_dataset_name, check_dataset_name
from mnistbench.errors import UsageError, user_path
from mnistbench.estimators.devices import nvidia_gpus
from mnistbench.estimators.models import MODELS
from mnistbench.harness.presets import PRESETS, Preset

__all__ = ["BACKENDS", "DEFAULT_OUTPUT", "DEVICES", "MAX_UNITS", "RunOptions", "RunSettings",
           "WorkerLayout", "auto_workers", "check_gpu_present", "check_seed", "names_of",
           "worker_layout"]

#: Where a run writes when no output folder is given. Not ``results/``: that folder
#: holds the project's reference results, which a user's run must never overwrite or
#: pass off as its own.
DEFAULT_OUTPUT = "mnistbench-results"
DEVICES = ("auto", "cpu", "gpu")
BACKENDS = ("local", "dask")
#: The most units one run may plan: far past any real protocol (run-all's default plans
#: 64), and a guard against a typo such as ``--repeats 100000``.
MAX_UNITS = 20_000
#: The most worker processes ``n_jobs=None`` starts (one per core up to this): each holds
#: its own copy of the data and of its framework.
MAX_AUTO_WORKERS = 8
#: A Dask scheduler address: ``[protocol://]host[:port]``.
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[\w.\-\[\]:]+$")


def _option(default, help, *, flags=None, **argparse_kwargs):
    """A field of :class:`RunOptions`, with what the CLI needs to offer it."""
    return dataclasses.field(default=default, metadata={
        "help": help, "flags": flags, "argparse": argparse_kwargs})


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run is done (not which datasets and models: those are its arguments).

    Each field is a keyword of :func:`~mnistbench.run_benchmark` and a flag of
    ``run-all`` / ``run`` (``n_jobs`` is ``--n-jobs``). Frozen: :meth:`check` validates
    them all before any work starts and resolves them, with the preset and the worker
    layout, into one :class:`RunSettings`, which every later step reads.
    """

    preset: str | Preset = _option(
        "default", "how much work: quick, default or full (a Preset from Python)",
        choices=list(PRESETS))
    cv: int | None = _option(None, "folds (overrides the preset)", type=int, metavar="K")
    repeats: int = _option(
        1, "repeat the stratified K-fold split R times, each shuffled anew (seed, seed + 1, "
        "...): more folds for the intervals and paired tests", type=int, metavar="R")
    seed: int = _option(0, "seed for the folds, the subsamples and every model", type=int)
    n_jobs: int | None = _option(
        None, "units run in N worker processes (default: one per core, at most "
        f"{MAX_AUTO_WORKERS}, on a CPU; 1 when a GPU computes; with --backend dask and no "
        "--scheduler: workers of the local cluster)", type=int, metavar="N")
    threads: int | None = _option(
        None, "thread-pool size per worker: BLAS, OpenMP, XGBoost, forest, TensorFlow "
        "(default: cores // workers; 1 on a remote Dask cluster)", type=int, metavar="T")
    backend: str = _option(
        "local", "local worker processes, or a Dask cluster (mnistbench.harness.dask_runner)",
        choices=list(BACKENDS))
    scheduler: str | None = _option(
        None, "Dask scheduler address, e.g. tcp://10.0.0.5:8786 (implies backend dask); "
        "without it a LocalCluster is started", metavar="ADDRESS")
    device: str = _option("auto", "GPU for XGBoost and the CNNs when present",
                          choices=list(DEVICES))
    output: str | Path = _option(
        DEFAULT_OUTPUT, "folder of records.jsonl, tables and figures; checked for writing "
        "before any work starts, and a run resumes only its own records there (the "
        "reference results shipped in the repository's results/reference/ are never resumed)",
        metavar="DIR")
    wait: bool = _option(
        False, "when another run holds the output folder, wait for it to end (by default "
        "the run stops at once and names the other run)", action="store_true")
    timeout: float | None = _option(
        None, "stop a unit running longer than this many seconds and record it as timed out",
        type=float, metavar="SECONDS")
    tune: bool = _option(
        False, "also a tuned row per model (<model>-tuned): nested CV, each unit searching its "
        "registry grid on its own training data by successive halving (3-fold inner CV); the "
        "test split takes no part in a choice. Several times the cost of the default rows",
        action="store_true")
    robustness: bool = _option(
        True, "score each final fit under the 15 corruptions on the preset's number of test "
        "images (--no-robustness: clean accuracy only)", flags=("--no-robustness",),
        action="store_false")
    data_file: str | None = _option(None, "MNIST file to use ($MNISTBENCH_DATA)",
                                    metavar="PATH")
    figures: bool = _option(True, "figures as well as tables (--no-figures: tables only)",
                            flags=("--no-figures",), action="store_false")
    quiet: bool = _option(False, "no progress bar or status lines", flags=("-q", "--quiet"),
                          action="store_true")
    verbose: bool = _option(
        False, "also Keras's per-epoch lines of each CNN unit (by default: the progress bar "
        "and one line per finished unit)", flags=("-v", "--verbose"), action="store_true")

    def __post_init__(self):
        for name in ("output", "data_file"):  # one path, checked and written
            value = getattr(self, name)
            if isinstance(value, (str, os.PathLike)) and str(value).strip():
                object.__setattr__(self, name, user_path(value))
        if self.scheduler:  # a scheduler address means the Dask backend
            object.__setattr__(self, "backend", "dask")

    @classmethod
    def from_keywords(cls, caller, **options) -> RunOptions:
        """The options of a Python call (``caller``: its name, for the error): an unknown
        keyword is a UsageError listing the options; a scheduler implies the Dask backend."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise UsageError(f"{caller} got unknown option(s) {unknown}; the options are "
                             f"{names}")
        return cls(**options)

    @classmethod
    def from_namespace(cls, args) -> RunOptions:
        """The options of parsed command-line arguments."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Add one flag per field to an ``argparse`` parser."""
        for f in dataclasses.fields(cls):
            flags = f.metadata["flags"] or ("--" + f.name.replace("_", "-"),)
            kwargs = dict(f.metadata["argparse"])
            if kwargs.get("action") is None:
                kwargs["default"] = f.default
            default = "" if f.default in (None, True, False) else " (default: %(default)s)"
            parser.add_argument(*flags, dest=f.name, help=f.metadata["help"] + default, **kwargs)

    @classmethod
    def docs(cls) -> str:
        """The fields, numpydoc-style, for docstrings."""
        return "\n".join(f"    {f.name} : default={f.default!r}\n        {f.metadata['help']}."
                         for f in dataclasses.fields(cls))

    @property
    def data_options(self) -> dict:
        return {"data_file": self.data_file} if self.data_file else {}

    def check(self, datasets, models, staged=()) -> RunSettings:
        """Check every option (and the names) before any work; return the run's settings:
        these options, the Preset they resolve to and the worker layout.

        Raises :class:`~mnistbench.errors.UsageError` naming the option, what is allowed
        and the fix. The command line and the Python API share this one check.
        """
        for name in datasets:  # ``staged``: the names of Dataset objects, checked apart
            if name not in staged:
                check_dataset_name(name)
        for model in models:  # names here; resolve_models has checked a user's models
            if isinstance(model, str) and model not in MODELS:
                raise UsageError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
        self._check_numbers()
        if self.device not in DEVICES:
            raise UsageError(f"device={self.device!r}: choose 'auto', 'cpu' or 'gpu'")
        if self.device == "gpu" and not self.scheduler:  # a remote cluster has its own
            check_gpu_present()
        if not str(self.output).strip():
            raise UsageError("--output is empty; name the folder for the records, tables and "
                             f"figures (default: {DEFAULT_OUTPUT})")
        self._check_backend()
        preset = self._resolve_preset()
        n_units = len(datasets) * len(models) * (len(preset.splits) + 1) * (2 if self.tune else 1)
        if n_units > MAX_UNITS:
            raise UsageError(f"this run would plan {n_units:,} units, more than {MAX_UNITS:,}; "
                             "lower --repeats or --cv, or run fewer models or datasets at a time")
        return RunSettings(self, preset, worker_layout(self))

    def _check_backend(self):
        if self.backend not in BACKENDS:
            raise UsageError(f"unknown backend {self.backend!r}; choose 'local' or 'dask'")
        if self.backend != "dask":
            return
        if self.timeout:
            raise UsageError("--timeout works with the local backend only (Dask cannot stop a "
                             "running task); drop --timeout or use --backend local")
        try:
            found = importlib.util.find_spec("distributed") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError("--backend dask needs dask.distributed, which is not installed: "
                             "pip install 'mnistbench[dask]', or use --backend local")
        if self.scheduler is not None and not _ADDRESS.match(str(self.scheduler).strip()):
            raise UsageError(f"--scheduler {self.scheduler!r} is not a Dask scheduler address; "
                             "give one such as tcp://10.0.0.5:8786, or leave it out to start a "
                             "local cluster")

    def _check_numbers(self):
        cores = os.cpu_count() or 1
        if self.n_jobs is not None:
            check_whole(self.n_jobs, "n_jobs", 1, "it is the number of worker processes (this "
                        f"machine has {cores} cores; leave --n-jobs out for one per core)")
        if self.threads is not None:
            check_whole(self.threads, "threads", 1, "it is the thread-pool size of each worker; "
                   "leave it out for cores // workers")
        check_seed(self.seed)
        if self.cv is not None:
            check_whole(self.cv, "cv", 2, "cross-validation needs at least 2 folds")
        check_whole(self.repeats, "repeats", 1, "it is how many times the K-fold split is repeated")
        t = self.timeout
        if t is not None and (isinstance(t, bool) or not isinstance(t, numbers.Real)
                              or not t > 0 or not np.isfinite(t)):
            raise UsageError(f"timeout={t!r}: must be a number of seconds above 0; leave it "
                             "out for no limit")

    def _resolve_preset(self) -> Preset:
        preset = self.preset
        if isinstance(preset, str):
            if preset not in PRESETS:
                raise UsageError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
            preset = PRESETS[preset]
        elif not isinstance(preset, Preset):
            raise UsageError(f"preset={preset!r}: give a preset's name ({', '.join(PRESETS)}) "
                             "or a mnistbench.harness.Preset")
        if self.cv is not None and self.cv != preset.cv:
            preset = dataclasses.replace(preset, name=f"{preset.name}-cv{self.cv}", cv=self.cv)
        if not self.robustness and preset.robustness:
            preset = dataclasses.replace(preset, robustness=None)
        if self.repeats != preset.repeats:
            preset = dataclasses.replace(preset, name=f"{preset.name}-x{self.repeats}",
                                         repeats=self.repeats)
        return preset


@dataclasses.dataclass(frozen=True)
class WorkerLayout:
    """Worker processes, and the thread pool of each: the units' model ``n_jobs`` and the
    workers' thread caps come from here, so parallel units never oversubscribe the cores."""

    workers: int
    threads: int


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """A run's options resolved once (:meth:`RunOptions.check`): the options as given, the
    :class:`Preset` they make (``--cv``, ``--repeats`` and ``--no-robustness`` folded in:
    read those from ``preset``) and the worker layout."""

    options: RunOptions
    preset: Preset
    layout: WorkerLayout


def worker_layout(opts: RunOptions) -> WorkerLayout:
    """Workers and threads per worker, decided once: the units' model n_jobs and the
    workers' thread-pool caps must agree, or parallel units oversubscribe the cores."""
    if opts.n_jobs is not None:
        n_workers = opts.n_jobs
    elif opts.scheduler:
        n_workers = 1  # a remote cluster has its own workers
    else:
        n_workers = auto_workers(opts.device)
    if opts.threads:
        threads = opts.threads
    elif opts.scheduler:
        threads = 1
    else:
        threads = max(1, (os.cpu_count() or 1) // n_workers)
    return WorkerLayout(n_workers, threads)


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


def check_whole(value, name, low, fix, high=None):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f"{low} or more" if high is None else f"from {low} to {high}"
        raise UsageError(f"{name}={value!r}: must be a whole number {bound}; {fix}")


def check_seed(seed) -> None:
    """One seed flows to NumPy and every model, which take 0 to 2**32 - 1."""
    check_whole(seed, "seed", 0, "NumPy and the models take seeds in that range",
                high=2**32 - 1)


def check_gpu_present() -> None:
    """``device="gpu"`` on a machine without a usable GPU would run on the CPU while the
    tables say GPU was asked for: refused before any work."""
    from mnistbench.estimators.devices import nvidia_gpus  # noqa: PLC0415 - only for gpu

    if not nvidia_gpus():
        raise UsageError("--device gpu: this machine has no usable GPU (nvidia-smi lists "
                         "none); `python -m mnistbench info` shows what it offers; use --device "
                         "auto (a GPU when present, else the CPU) or --device cpu")


def names_of(value, what, registry, note=None, default=None) -> list:
    """The names of a ``datasets=`` / ``models=`` argument as a list: None means ``default``
    (the whole registry when that is None), ``"all"`` the whole registry, one string is
    one name, an empty list is refused, a folder or file dataset is named by its one
    canonical spelling (:func:`~mnistbench.data.datasets.canonical_dataset_name`), and a
    name given twice is run once (with a ``note``)."""
    if value is None:
        return list(registry if default is None else default)
    if isinstance(value, str):
        value = [value]
    try:
        names = list(value)
    except TypeError:
        raise UsageError(f"{what}={value!r}: give a list of names, e.g. {what}="
                         f"{list(registry)[:2]}, or leave it out for all") from None
    if not names:
        raise UsageError(f"{what}=[] names nothing; give at least one name, or leave it out "
                         f"for all ({', '.join(registry)})")
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise UsageError(f"{what}: {odd[0]!r} is not a name; give names as strings, e.g. "
                         f"{what}={list(registry)[:2]}")
    names = [canonical_dataset_name(m) if what == "datasets" else m
             for n in names for m in (registry if n == ALL_DATASETS else [n])]
    unique = list(dict.fromkeys(names))
    if len(unique) < len(names) and note:
        twice = sorted({n for n in names if names.count(n) > 1}, key=names.index)
        note(f"{what}: {', '.join(map(str, twice))} given more than once; each runs once")
    return unique
