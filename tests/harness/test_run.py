"""run-all machinery on tiny data: record store, resume, failures, timeouts, tables, CLI."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from mnistbench.cli import main
from mnistbench.errors import UsageError
from mnistbench.evaluation.records import as_records
from mnistbench.harness import (
    PRESETS,
    Preset,
    RecordStore,
    plan_units,
    run_benchmark,
    run_unit,
    run_units,
)
from mnistbench.harness.options import WorkerLayout
from mnistbench.reporting.report import summarize, write_figures, write_tables

FAST_MODELS = ["logreg", "svc"]
#: What an ``ok`` record must carry besides its key (the store's schema).
OK = {"accuracy": 0.5, "n_train": 10, "n_test": 5}


# --------------------------------------------------------------------------- store
def test_store_appends_whole_lines_and_skips_a_torn_one(tmp_path):
    store = RecordStore(tmp_path / "records.jsonl")
    for i in range(3):
        store.append({"dataset": "d", "model": "m", "split": f"fold-{i}", "params_hash": "h",
                      "status": "ok", "x": np.float32(0.5), **OK})
    with open(store.path, "ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"dataset": "d", "mod')
    with pytest.warns(UserWarning, match=r"skipped 1 line\(s\) that are not records \(line 4\)"):
        records = store.load()
    assert len(records) == 3 and records[0]["x"] == 0.5
    assert len({r.unit_key for r in store.own_records() if r.ok}) == 3
    # the next record is not glued onto the torn line: only the torn unit is lost
    store.append({"dataset": "d", "model": "m", "split": "test", "params_hash": "h",
                  "status": "ok", **OK})
    with pytest.warns(UserWarning, match="line 4"):
        records = RecordStore(store.path).load()
    assert [r["split"] for r in records] == ["fold-0", "fold-1", "fold-2", "test"]


def test_lines_that_are_json_but_not_records_are_skipped(tmp_path):
    store = RecordStore(tmp_path / "records.jsonl")
    store.append({"dataset": "d", "model": "m", "split": "test", "params_hash": "h",
                  "status": "ok", **OK})
    with open(store.path, "a") as fh:
        fh.write('[1, 2]\n"text"\n{"dataset": 3}\nnull\n')
    with pytest.warns(UserWarning, match=r"skipped 4 line\(s\).*line 2, 3, 4, 5"):
        assert [r["split"] for r in store.load()] == ["test"]


def test_failed_units_are_not_counted_as_finished(tmp_path):
    store = RecordStore(tmp_path / "r.jsonl")
    store.append({"dataset": "d", "model": "m", "split": "test", "params_hash": "h", "status": "failed"})
    store.append({"dataset": "d", "model": "m", "split": "fold-1", "params_hash": "h", "status": "ok",
                  **OK})
    assert {r.unit_key for r in store.own_records() if r.ok} == {("d", "m", "fold-1", "h")}


@pytest.mark.e2e
def test_records_from_another_machine_are_resumed_by_no_run(tmp_path):
    """A clone's shipped results/reference/records.jsonl must not pass for the user's own run: a
    folder holding only records made on another machine is refused, untouched."""
    from mnistbench.hostinfo import host_description

    out = tmp_path / "out"
    run_benchmark(["digits"], ["logreg"], preset="quick", output=out, quiet=True, figures=False)
    path = out / "records.jsonl"
    lines = path.read_text().splitlines()
    n = len(lines)
    assert all(json.loads(x)["host"] == host_description() for x in lines)
    run_benchmark(["digits"], ["logreg"], preset="quick", output=out, quiet=True, figures=False)
    assert len(path.read_text().splitlines()) == n  # same machine: resumed, nothing rerun
    path.write_text("".join(json.dumps({**json.loads(x), "host": "elsewhere"}) + "\n"
                            for x in lines))
    before = path.read_bytes()
    with pytest.raises(UsageError, match="holds records made elsewhere .its owner file names a "
                       "store none of them carries on this machine"):
        run_benchmark(["digits"], ["logreg"], preset="quick", output=out, quiet=True,
                      figures=False)
    assert path.read_bytes() == before


def test_params_hash_changes_with_what_changes_results():
    a = plan_units(["digits"], ["logreg"], PRESETS["quick"], seed=0)
    b = plan_units(["digits"], ["logreg"], PRESETS["quick"], seed=1)
    c = plan_units(["digits"], ["logreg"], PRESETS["default"], seed=0)
    d = plan_units(["digits"], ["logreg"], PRESETS["quick"], seed=0, threads=7)
    assert len({a[0].params_hash, b[0].params_hash, c[0].params_hash}) == 3
    assert a[0].params_hash == d[0].params_hash  # thread count does not change results
    assert [u.split for u in a] == ["fold-1", "fold-2", "test"]


@pytest.mark.e2e
def test_repeated_folds_are_new_splits_and_pair_across_models(tmp_path):
    once = plan_units(["digits"], ["logreg"], PRESETS["quick"])
    df = run_benchmark(["digits"], ["logreg", "svc"], "quick", repeats=3, output=tmp_path,
                       quiet=True, figures=False)
    assert (df["cv_folds"] == 3 * PRESETS["quick"].cv).all()
    records = RecordStore(tmp_path / "records.jsonl").load()
    folds = [r for r in records if r["model"] == "logreg" and r["split"] != "test"]
    assert sorted(r["split"] for r in folds) == sorted(
        f"r{i}-fold-{k}" for i in (1, 2, 3) for k in (1, 2))
    assert len({r["accuracy"] for r in folds}) > 2  # each repeat shuffles anew
    repeated = plan_units(["digits"], ["logreg"], dataclasses.replace(PRESETS["quick"], repeats=3))
    assert repeated[0].params_hash != once[0].params_hash
    pairs = (tmp_path / "significance_digits.csv").read_text()
    assert "logreg" in pairs and "svc" in pairs
    assert "2-fold stratified CV x 3 repeats" in (tmp_path / "report.html").read_text()


# --------------------------------------------------------------------------- protocol
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    df = run_benchmark(["digits"], FAST_MODELS, "quick", output=out, quiet=True)
    return out, df


@pytest.mark.e2e
def test_run_benchmark_returns_the_table(quick_run):
    out, df = quick_run
    assert list(df["model"]) == sorted(FAST_MODELS, key=lambda m: -df.set_index("model").loc[m, "test_accuracy"])
    assert (df["status"] == "ok").all()
    assert (df["cv_folds"] == PRESETS["quick"].cv).all()
    assert df["test_accuracy"].between(0.8, 1).all()
    records = RecordStore(out / "records.jsonl").load()
    assert len(records) == len(FAST_MODELS) * (PRESETS["quick"].cv + 1)
    needed = {"dataset", "model", "split", "n_train", "n_test", "accuracy", "macro_f1",
              "fit_seconds", "predict_seconds", "device", "seed", "preset", "params_hash",
              "versions", "timestamp"}
    for r in records:
        assert needed <= set(r.to_dict()), needed - set(r.to_dict())
    test = [r for r in records if r["split"] == "test"]
    assert all(r["n_test"] == 450 for r in test)  # the whole digits test split
    assert all(np.array(r["confusion"]).sum() == 450 for r in test)


@pytest.mark.e2e
def test_rerun_skips_finished_units_and_rerenders(quick_run):
    out, df = quick_run
    before = (out / "records.jsonl").read_text()
    again = run_benchmark(["digits"], FAST_MODELS, "quick", output=out, quiet=True)
    assert (out / "records.jsonl").read_text() == before  # nothing re-run
    pd.testing.assert_frame_equal(again, df)


@pytest.mark.e2e
def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    """Kill -9 a real run midway; the re-run completes it without redoing finished units."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mnistbench", "run", "--datasets", "digits", "--models",
           "logreg", "svc", "random-forest", "--preset", "quick", "--output", str(out), "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    records = out / "records.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-flight
    proc.wait()
    done_before = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    assert 2 <= len(done_before) < 9, "the kill should land midway"

    assert subprocess.run(cmd, timeout=600).returncode == 0
    after = RecordStore(records).load()
    keys = [(r["model"], r["split"]) for r in after]
    assert len(keys) == 9 and len(set(keys)) == 9  # every unit once: none redone
    assert [r.to_dict() for r in after[: len(done_before)]] == done_before


@pytest.mark.e2e
def test_a_failing_unit_is_recorded_and_the_run_goes_on(tmp_path):
    units = plan_units(["digits"], ["logreg"], PRESETS["quick"])
    broken = plan_units(["digits"], ["no-such-model"], PRESETS["quick"])[:1]
    store = RecordStore(tmp_path / "r.jsonl")
    statuses = run_units(broken + units, store, WorkerLayout(1, 2))
    assert statuses == {"failed": 1, "ok": 3}
    failed = [r for r in store.load() if r["status"] == "failed"][0]
    assert "unknown model 'no-such-model'" in failed["error"] and "Traceback" in failed["traceback"]
    table = summarize(store.load())
    assert set(table["status"]) == {"ok", "failed"}  # shown, never dropped


@pytest.mark.e2e
def test_a_unit_past_the_timeout_is_stopped_and_recorded(tmp_path):
    """The timeout counts a unit's own work, from when its worker (already started and
    ready) takes it: a busy machine slows the 1,000-image fast unit a little, never past
    the limit, while the deep net's final fit on all 60,000 MNIST images stays far above
    it on any CPU (its 2,500 steps on digits took under 10 s on a Zen 5 in bfloat16)."""
    slow = plan_units(["mnist"], ["cnn-deep"], PRESETS["default"])[-1:]
    fast = plan_units(["digits"], ["logreg"], PRESETS["quick"])[-1:]
    store = RecordStore(tmp_path / "r.jsonl")
    statuses = run_units(slow + fast, store, WorkerLayout(2, 1), timeout=10.0)
    assert statuses == {"timeout": 1, "ok": 1}
    timed_out = [r for r in store.load() if r["status"] == "timeout"][0]
    assert timed_out["model"] == "cnn-deep" and "10 s" in timed_out["error"]


@pytest.mark.e2e
def test_parallel_workers_give_the_same_records(tmp_path, quick_run):
    out, df = quick_run
    df2 = run_benchmark(["digits"], FAST_MODELS, "quick", output=tmp_path, quiet=True, n_jobs=2)
    cols = ["model", "cv_accuracy_mean", "test_accuracy"]
    pd.testing.assert_frame_equal(df2[cols], df[cols])


# --------------------------------------------------------------------------- tables
class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._in = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._in = True
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr":
            self.rows.append(self._row)
        elif tag in ("td", "th"):
            self._in = False

    def handle_data(self, data):
        if self._in:
            self._row[-1] += data


@pytest.mark.e2e
def test_every_table_format_parses_back(quick_run):
    out, df = quick_run
    n = len(df)
    # CSV: the full-precision numbers, plain (the header row first, no comment lines)
    back = pd.read_csv(out / "results_digits.csv")
    np.testing.assert_allclose(back["test_accuracy"], df["test_accuracy"])
    assert list(back["model"]) == list(df["model"])
    for path in out.glob("*.csv"):  # every table a run writes
        assert not path.read_text().startswith("#"), path
        assert len(pd.read_csv(path).columns) >= 2, path
    # Markdown: a pipe table with one row per model
    md = [line for line in (out / "results_digits.md").read_text().splitlines() if line.startswith("|")]
    assert len(md) == n + 2
    cells = [c.strip() for c in md[2].strip("|").split("|")]
    assert cells[0] == df["model"][0] and cells[3] == f"{100 * df['test_accuracy'][0]:.2f}"
    low, high = (float(x) for x in cells[4].strip("[]").split(","))
    assert low < float(cells[3]) < high  # the 95 % interval around it
    # HTML
    parser = _Cells()
    parser.feed((out / "results_digits.html").read_text())
    assert len(parser.rows) == n + 1 and parser.rows[1][0] == df["model"][0]
    # LaTeX: a tabular with one row per model
    tex = (out / "results_digits.tex").read_text()
    body = tex[tex.index("\\midrule") : tex.index("\\bottomrule")]
    assert body.count("\\\\") == n and "\\begin{tabular}" in tex
    # header names preset, seed, versions, hardware, date
    header = (out / "results_digits.md").read_text()
    for word in ("preset quick", "seed 0", "scikit-learn", "hardware"):
        assert word in header
    assert re.search(r"<!-- run \d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}; records up to ", header)


@pytest.mark.e2e
def test_figures_are_written(quick_run):
    out, _ = quick_run
    for stem in ("digits_cv_boxplot", "digits_confusion_best", "digits_accuracy_vs_fit_time"):
        for ext in ("png", "svg"):
            assert (out / f"{stem}.{ext}").stat().st_size > 1000


@pytest.mark.e2e
def test_figures_leave_the_users_matplotlib_backend_alone(quick_run, tmp_path):
    """A notebook user's backend must survive a report (it used to be forced to Agg)."""
    import matplotlib
    import matplotlib.pyplot as plt

    out, df = quick_run
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        written = write_figures(df, RecordStore(out / "records.jsonl").load(), tmp_path)
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == []
    finally:
        matplotlib.use(before)
    assert written and all(p.stat().st_size > 1000 for p in written)


@pytest.mark.parametrize("verbose, shown", [(1, False), (2, True)])
def test_keras_epoch_lines_only_when_verbose(capfd, verbose, shown):
    """run-all's progress bar is not interleaved with every worker's epoch lines."""
    unit = plan_units(["digits"], ["cnn-baseline"], PRESETS["quick"], verbose=verbose)[0]
    record = run_unit(unit)
    assert record["status"] == "ok"
    assert ("Epoch 1/2" in capfd.readouterr().out) is shown


def test_tables_show_failures_with_their_error(tmp_path):
    records = [
        {"dataset": "digits", "model": "svc", "split": "test", "status": "ok", "accuracy": 0.9,
         "macro_f1": 0.9, "fit_seconds": 1, "predict_seconds": 0.1, "n_train": 10, "n_test": 5,
         "device": "cpu"},
        {"dataset": "digits", "model": "cnn-deep", "split": "test", "status": "timeout",
         "error": "stopped after 5 s (--timeout)"},
    ]
    df = summarize(records)
    write_tables(df, as_records(records), tmp_path, "quick", 0)
    md = (tmp_path / "results_digits.md").read_text()
    assert "timeout: test: timeout (stopped after 5 s (--timeout))" in md


# --------------------------------------------------------------------------- CLI
@pytest.mark.e2e
def test_cli_run_then_report_alone(tmp_path, capsys):
    args = ["--preset", "quick", "--output", str(tmp_path), "-q", "--no-figures"]
    assert main(["run", "--datasets", "digits", "--models", "logreg", *args]) == 0
    (tmp_path / "results_digits.md").unlink()
    assert main(["report", "--output", str(tmp_path), "--preset", "quick"]) == 0
    assert (tmp_path / "results_digits.md").exists()
    assert (tmp_path / "digits_confusion_best.png").exists()  # report draws the figures


@pytest.mark.e2e
def test_a_plain_report_renders_the_folders_newest_run_whatever_its_options(tmp_path, capsys):
    args = ["--datasets", "digits", "--models", "logreg", "--output", str(tmp_path), "-q",
            "--no-figures"]
    assert main(["run", "--preset", "quick", *args]) == 0  # its own 2 folds
    assert main(["run", "--preset", "quick", "--cv", "5", *args]) == 0
    (tmp_path / "results_digits.csv").unlink()
    capsys.readouterr()
    assert main(["report", "--output", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "holds 2 run(s)" in err and "preset quick, seed 0" in err
    assert re.search(r"rendering run \S+; --run ID renders another", err)
    assert "preset quick-cv5, seed 0" in err.splitlines()[2]  # the newest, rendered
    row = pd.read_csv(tmp_path / "results_digits.csv").iloc[0]
    assert row["cv_folds"] == 5
    assert main(["report", "--output", str(tmp_path), "--preset", "quick"]) == 0
    assert pd.read_csv(tmp_path / "results_digits.csv").iloc[0]["cv_folds"] == 2
    assert main(["report", "--output", str(tmp_path), "--preset", "default"]) == 2
    err = capsys.readouterr().err
    assert "no run with preset 'default'" in err and "preset quick-cv5, seed 0" in err


@pytest.mark.e2e
def test_cli_report_without_records_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--output", str(tmp_path)]) == 1
    assert "run-all" in capsys.readouterr().err


@pytest.mark.e2e
def test_cli_rejects_unknown_models():
    out = subprocess.run([sys.executable, "-m", "mnistbench", "run", "--models", "resnet"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "error: unknown model 'resnet'" in out.stderr


def test_cli_list_shows_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "presets:" in out and "quick" in out and "full" in out


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_cnn_record_names_a_reduced_precision(precision):
    preset = Preset("t", cv=2, cv_subsample=None, train_subsample=None, description="t",
                    model_params={"cnn-baseline": {"epochs": 1, "min_steps": 0, "filters": 8, "dense_units": 16,
                                                   "precision": precision}})
    record = run_unit(plan_units(["digits"], ["cnn-baseline"], preset)[-1])
    assert record["status"] == "ok"
    # the table's device column shows a reduced precision, and only that
    assert record["device"].endswith(" (mixed_bfloat16)") == (precision == "mixed_bfloat16")


# --------------------------------------------------------------------------- worker layout
def test_workers_default_to_one_single_threaded_per_core_and_one_when_a_gpu_computes(
        monkeypatch):
    from mnistbench.harness import options as layout_module
    from mnistbench.harness.options import MAX_AUTO_WORKERS, RunOptions, WorkerLayout

    def layout(**options):
        return layout_module.worker_layout(RunOptions(**options))

    monkeypatch.setattr(layout_module, "nvidia_gpus", lambda: ())
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert layout() == WorkerLayout(4, 1)
    assert layout(n_jobs=1) == WorkerLayout(1, 4)
    assert layout(threads=2) == WorkerLayout(4, 2)
    assert layout(scheduler="tcp://10.0.0.5:8786") == WorkerLayout(1, 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 32)
    assert layout() == WorkerLayout(MAX_AUTO_WORKERS, 32 // MAX_AUTO_WORKERS)
    assert layout(device="gpu") == WorkerLayout(1, 32)
    monkeypatch.setattr(layout_module, "nvidia_gpus", lambda: ("NVIDIA H200, 143771 MiB, 570.1",))
    assert layout() == WorkerLayout(1, 32)
    assert layout(device="cpu") == WorkerLayout(MAX_AUTO_WORKERS, 4)
    # the one layout is what the run's settings carry, and what its runner uses
    settings = RunOptions(device="cpu").check(["digits"], ["logreg"])
    assert settings.layout == WorkerLayout(MAX_AUTO_WORKERS, 4)


def test_the_cnns_final_fits_are_handed_out_first():
    from mnistbench.harness.run import _longest_first

    units = plan_units(["digits", "mnist"], ["logreg", "cnn-baseline"], PRESETS["quick"])
    order = [(u.dataset, u.model, u.split) for u in sorted(units, key=_longest_first)]
    assert order[:4] == [("digits", "cnn-baseline", "test"), ("mnist", "cnn-baseline", "test"),
                         ("digits", "logreg", "test"), ("mnist", "logreg", "test")]
    assert all(split != "test" for _, _, split in order[4:])


@pytest.mark.e2e
def test_an_npz_dataset_runs_and_a_changed_file_is_recomputed(tmp_path, digits):
    """npz:PATH is a dataset like a registered one; the arrays' fingerprint is part of each
    unit's hash, so another file saved under the same name is never resumed as this one."""
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=digits.X_train, y_train=digits.y_train, x_test=digits.X_test,
             y_test=digits.y_test)
    out = tmp_path / "out"
    df = run_benchmark([f"npz:{path}"], ["logreg"], preset="quick", output=out, quiet=True,
                       figures=False)
    assert df["test_accuracy"].iloc[0] > 0.8
    first = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert {r["dataset"] for r in first} == {f"npz:{path}"} and len(first) == 3
    run_benchmark([f"npz:{path}"], ["logreg"], preset="quick", output=out, quiet=True,
                  figures=False)
    assert len((out / "records.jsonl").read_text().splitlines()) == 3  # resumed
    np.savez(path, x_train=digits.X_train[::-1], y_train=digits.y_train[::-1],
             x_test=digits.X_test, y_test=digits.y_test)
    run_benchmark([f"npz:{path}"], ["logreg"], preset="quick", output=out, quiet=True,
                  figures=False)
    again = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(again) == 6  # every unit recomputed
    assert {r["params_hash"] for r in again[3:]}.isdisjoint({r["params_hash"] for r in first})


@pytest.mark.e2e
def test_a_dataset_object_runs_under_its_own_name_and_resumes(tmp_path, digits, monkeypatch):
    """A Dataset passed to run_benchmark is the same data as its registered twin: the same
    scores, under its own name, with its fingerprint in the hash (a changed object reruns)."""
    monkeypatch.setenv("MNISTBENCH_CACHE", str(tmp_path / "cache"))
    mine = dataclasses.replace(digits, name="my-digits")
    out = tmp_path / "out"
    kwargs = {"preset": "quick", "output": out, "quiet": True, "figures": False}
    df = run_benchmark([mine, "digits"], ["logreg"], **kwargs)
    by_name = df.set_index("dataset")["test_accuracy"]
    assert by_name["my-digits"] == by_name["digits"]
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    robust = {r["dataset"]: {k: v for k, v in r["robustness"].items() if k != "seconds"}
              for r in records if r["split"] == "test"}
    assert robust["my-digits"] == robust["digits"]  # the corruptions saw the same 0-16 pixels
    run_benchmark(mine, ["logreg"], **kwargs)
    assert len((out / "records.jsonl").read_text().splitlines()) == 6  # resumed
    changed = dataclasses.replace(mine, X_train=mine.X_train[::-1], y_train=mine.y_train[::-1])
    run_benchmark(changed, ["logreg"], **kwargs)
    assert len((out / "records.jsonl").read_text().splitlines()) == 9


@pytest.mark.e2e
@pytest.mark.parametrize("make, match", [
    (lambda ds: dataclasses.replace(ds, name="digits"), r"named 'digits': give it a name of its own"),
    (lambda ds: dataclasses.replace(ds, name="my data"), r"named 'my data'"),
    (lambda ds: dataclasses.replace(ds, name="x", X_train=np.where(ds.X_train == 3, np.nan, 0.5)),
     r"dataset 'x': x_train has NaN pixels"),
    (lambda ds: dataclasses.replace(ds, name="x", y_test=np.where(ds.y_test == 9, 11, ds.y_test)),
     r"dataset 'x': the splits have different classes"),
    (lambda ds: dataclasses.replace(ds, name="x", y_train=ds.y_train[:100]),
     r"dataset 'x': x_train has 1347 images but y_train 100 labels"),
    (lambda ds: dataclasses.replace(ds, name="x", pixel_max=8), r"pixel_max is 8.*from 16 to 255"),
    (lambda ds: [dataclasses.replace(ds, name="x"),
                 dataclasses.replace(ds, name="x", X_test=ds.X_test[::-1], y_test=ds.y_test[::-1])],
     r"two different Dataset objects are named 'x'"),
])
def test_a_bad_dataset_object_is_refused_before_any_work(tmp_path, digits, monkeypatch, make,
                                                         match):
    from mnistbench.errors import MnistbenchError

    monkeypatch.setenv("MNISTBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MnistbenchError, match=match):
        run_benchmark(make(digits), ["logreg"], preset="quick", output=tmp_path / "out",
                      quiet=True)
    assert not (tmp_path / "out").exists()
