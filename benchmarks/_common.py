"""What the maintained benchmarks share: the machine description, and the one writer of
their files (``write_json``, ``write_page``: ``results/bench/<name>.{json,md}``, the
JSON-lines files beside them through ``append_jsonl``)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"
#: Where every maintained benchmark writes.
BENCH = RESULTS / "bench"


def photos():
    """The test suite's synthetic photo maker (``tests/_photos.py``), loaded from its file."""
    import importlib.util

    path = RESULTS.parent / "tests" / "_photos.py"
    spec = importlib.util.spec_from_file_location("_photos", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine() -> dict:
    """The machine a figure was measured on (same description as run-all's records)."""
    from mnistbench.hostinfo import host_description, library_versions

    info = {
        "host": host_description(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": library_versions(),
    }
    try:
        from mnistbench.estimators.devices import import_keras_quietly, keras_device

        keras = import_keras_quietly()
        info["keras_backend"] = keras.config.backend()
        info["keras_device"] = keras_device()
    except ImportError:
        pass
    return info


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_json(name: str, result: dict) -> Path:
    """``results/bench/<name>.json``: a benchmark's whole result (its machine included)."""
    path = BENCH / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def write_page(name: str, text: str) -> Path:
    """``results/bench/<name>.md``: a benchmark's Markdown page (see :func:`bench_page`)."""
    path = BENCH / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def markdown_table(rows: list[dict]) -> str:
    """A Markdown table of ``rows`` (column name -> cell text, columns in order), through
    pandas's ``to_markdown``; cells are kept exactly as formatted (no number parsing)."""
    import pandas as pd

    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def bench_page(title: str, records, command: str, intro: str, rows: list[dict]) -> str:
    """A benchmark's Markdown page: the title, the machines its ``records`` ran on (each
    record's ``machine["host"]`` or ``host``), the command that wrote it, ``intro`` and the
    table of ``rows``."""
    hosts = sorted({r["machine"]["host"] if "machine" in r else r["host"] for r in records})
    return (f"# {title}\n\nMachine: {'; '.join(hosts)}. Written by `{command}`. {intro}\n\n"
            + markdown_table(rows) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of ``path``, one per line (none if it does not exist). A line that
    is not JSON (an append cut short by a kill) is skipped with a warning naming it, so
    that a resumed run redoes that piece instead of failing on it."""
    if not path.exists():
        return []
    rows, bad = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(number)
    if bad:
        warnings.warn(f"{path}: skipped line(s) {bad} that are not JSON (a cut-short write)",
                      stacklevel=2)
    return rows


# --------------------------------------------------------------------------- scaling
CLASSIC_MODELS = ["logreg", "random-forest", "svc", "hog-svm"]


def scaling_preset():
    """The workload of the CV-scaling and plain-script comparisons: MNIST, 3-fold CV on
    a stratified 10,000 images, final fit on 20,000, scored on the 10,000 test images."""
    from mnistbench.harness import Preset

    return Preset("bench-scaling", cv=3, cv_subsample=10000, train_subsample=20000,
                  model_params={"random-forest": {"forest__n_estimators": 100}},
                  description="benchmark: 3-fold CV on 10,000 MNIST images, final fit on 20,000")


def timed_scaling_run(**options):
    """``run_benchmark`` of the classic models on ``scaling_preset()`` into an empty
    temporary folder (nothing reused); returns ``(table, wall seconds, unit seconds)``,
    the last being the fit + predict seconds summed over the units."""
    import tempfile
    import time

    from mnistbench.harness import RecordStore, run_benchmark

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        df = run_benchmark(["mnist"], CLASSIC_MODELS, preset=scaling_preset(), output=out,
                           quiet=True, **options)
        wall = time.perf_counter() - t0
        records = RecordStore(Path(out) / "records.jsonl").load()
        unit_seconds = sum(r["fit_seconds"] + r["predict_seconds"] for r in records)
        return df, wall, unit_seconds
