"""run-all scores each final fit under the 15 corruptions; the corrupted sets are
made once, cached and checksummed; tables, heatmap and report section; n/a never a number."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from mnistbench import run_benchmark
from mnistbench.cli import build_parser
from mnistbench.data.corruptions import CORRUPTIONS
from mnistbench.evaluation.records import as_records
from mnistbench.evaluation.robustness import corrupted_sets, robustness_table, score_corrupted
from mnistbench.harness import PRESETS, RunOptions
from mnistbench.harness import execute as execute_module
from mnistbench.harness.execute import run_unit
from mnistbench.harness.units import Unit, params_hash

NOT_ON_8X8 = {"glass_blur", "fog", "spatter", "canny_edges"}


@pytest.mark.e2e
def test_run_all_records_robustness_and_writes_table_heatmap_and_section(tmp_path):
    out = tmp_path / "out"
    run_benchmark(["digits"], ["logreg"], preset="quick", output=out, quiet=True)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    final = next(r for r in records if r["split"] == "test")
    rob = final["robustness"]
    assert rob["n"] == PRESETS["quick"].robustness and 0.5 < rob["clean"] <= 1
    assert set(rob["accuracy"]) == set(CORRUPTIONS)
    assert {k for k, v in rob["accuracy"].items() if v is None} == NOT_ON_8X8
    assert all(0 <= v <= 1 for v in rob["accuracy"].values() if v is not None)
    assert all("robustness" not in r for r in records if r["split"] != "test")
    table = (out / "robustness_digits.md").read_text()
    row = table.strip().splitlines()[-1]  # the note above the table says "n/a" once too
    assert row.count("| n/a ") == len(NOT_ON_8X8) and "relative_mce" in table
    assert (out / "digits_robustness.png").stat().st_size > 0
    assert (out / "digits_corruptions.png").stat().st_size > 0  # one digit, every corruption
    page = (out / "report.html").read_text()
    assert "Robustness: accuracy under 15 corruptions" in page


@pytest.mark.e2e
def test_the_preset_sets_the_images_and_is_part_of_the_hash():
    assert PRESETS["default"].robustness == 3000 and PRESETS["full"].robustness == 10000
    quick = PRESETS["quick"]
    off = dataclasses.replace(quick, robustness=None)
    assert params_hash("digits", "svc", quick, 0, {}) != params_hash("digits", "svc", off, 0, {})
    args = build_parser().parse_args(["run-all", "--no-robustness"])
    assert RunOptions.from_namespace(args).check(["digits"], ["svc"]).preset.robustness is None
    assert RunOptions().check(["digits"], ["svc"]).preset.robustness == 3000


def test_sets_are_cached_checksummed_and_regenerated_when_damaged(tmp_path, digits, caplog):
    lines = []
    first = corrupted_sets("digits", digits, 50, seed=1, cache=tmp_path, log=lines.append)
    assert len(lines) == 1 and "generated" in lines[0]
    [path] = (tmp_path / "corrupted").glob("*.npz")
    # a second process loads it (the in-process memo is per path: clear it to read the file)
    from mnistbench.evaluation import robustness
    robustness._MEMO.clear()
    again = corrupted_sets("digits", digits, 50, seed=1, cache=tmp_path, log=lines.append)
    assert len(lines) == 1  # loaded, not generated
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    # damage the file's bytes but keep it a valid archive: the checksums catch it
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["rotate"] = arrays["rotate"] ^ 1
    np.savez(path, **arrays)
    robustness._MEMO.clear()
    fixed = corrupted_sets("digits", digits, 50, seed=1, cache=tmp_path, log=lines.append)
    assert len(lines) == 2  # regenerated
    np.testing.assert_array_equal(fixed["rotate"], first["rotate"])
    # a stratified subset: every class is there
    assert len(np.unique(digits.y_test[first["indices"]])) == 10


def test_a_failed_robustness_score_keeps_the_unit_ok(monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("no room for the corrupted sets")

    monkeypatch.setattr(execute_module, "corrupted_sets", broken)
    preset = dataclasses.replace(PRESETS["quick"], robustness=20)
    record = run_unit(Unit("digits", "logreg", "test", preset, 0, {}, "h"))
    assert record["status"] == "ok" and record["accuracy"] > 0.8
    assert record["robustness"] == {"error": "MemoryError: no room for the corrupted sets"}


def test_scores_and_table_from_a_known_model(digits):
    sets = corrupted_sets("digits", digits, 100, seed=0)
    constant = DummyClassifier(strategy="constant", constant=3).fit(digits.X_train.reshape(
        len(digits.X_train), -1), digits.y_train)

    class Flat:  # the dummy on flattened images
        def predict(self, X):
            return constant.predict(np.asarray(X).reshape(len(X), -1))

    rob = score_corrupted(Flat(), sets, digits.X_test, digits.y_test)
    share = np.mean(digits.y_test[sets["indices"]] == 3)
    assert rob["clean"] == pytest.approx(share)
    assert all(v == pytest.approx(share) for v in rob["accuracy"].values() if v is not None)
    row = robustness_table(as_records([{"dataset": "digits", "split": "test", "model": "dummy",
                                        "status": "ok", "robustness": rob}]), "digits").iloc[0]
    assert row["mean_drop_points"] == pytest.approx(0)
    assert np.isnan(row["fog"]) and row["clean"] == pytest.approx(100 * share)


@pytest.mark.e2e
def test_the_whole_zoo_and_the_corruptions_run_on_fashion_mnist(tmp_path, fashion):
    """Fashion-MNIST is a registry dataset like MNIST: every model, the same protocol,
    every corruption applicable at 28x28, the tables under its name."""
    from mnistbench.estimators.models import MODELS

    out = tmp_path / "out"
    run_benchmark(["fashion-mnist"], None, preset="quick", output=out, quiet=True,
                  figures=False)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["model"] for r in records} == set(MODELS)
    assert all(r["status"] == "ok" and r["dataset"] == "fashion-mnist" for r in records)
    finals = [r for r in records if r["split"] == "test"]
    assert len(finals) == len(MODELS)
    for r in finals:
        assert r["accuracy"] > 0.5, (r["model"], r["accuracy"])  # chance is 0.1
        rob = r["robustness"]
        assert set(rob["accuracy"]) == set(CORRUPTIONS)
        assert all(v is not None for v in rob["accuracy"].values())
    table = (out / "results_fashion-mnist.md").read_text()
    assert all(f"| {m} " in table for m in MODELS)
    # the classes keep their names, and the confusion matrix shows them
    from mnistbench.reporting.report import _confusion_best

    assert finals[0]["class_names"] == list(fashion.extra["class_names"])
    figure = _confusion_best("fashion-mnist", as_records(finals))
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks[0] == "T-shirt/top" and ticks[-1] == "Ankle boot"
