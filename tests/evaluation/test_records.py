"""The typed record and split (mnistbench.evaluation.records): one parser and formatter for
splits, records that load from every store written so far and render the same tables."""

import json
import pathlib
import shutil

import pandas as pd
import pytest

from mnistbench.evaluation.records import SCHEMA_VERSION, Record, Split, as_records
from mnistbench.harness.presets import PRESETS
from mnistbench.harness.store import RecordStore, parse_record
from mnistbench.reporting.curve_tables import curve_point, curve_split, write_curve_report
from mnistbench.reporting.report import choose_run, runs_in, write_report

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "results"
REFERENCE = RESULTS / "reference"
STORES = [REFERENCE / "records.jsonl", RESULTS / "runs" / "tuned-digits" / "records.jsonl",
          RESULTS / "runs" / "custom-digits" / "records.jsonl"]


@pytest.mark.parametrize("text, split", [
    ("test", Split("test")),
    ("fold-3", Split("fold", fold=3)),
    ("r2-fold-5", Split("fold", repeat=2, fold=5)),
    ("n1000-r3", Split("curve", repeat=3, size=1000)),
])
def test_a_split_name_parses_and_formats_back(text, split):
    assert Split.parse(text) == split
    assert str(split) == text
    assert [split.is_test, split.is_fold, split.is_curve].count(True) == 1


@pytest.mark.parametrize("text", ["", "fold", "fold-x", "r-fold-1", "n10", "train", "Test"])
def test_a_text_that_is_no_split_is_refused(text):
    with pytest.raises(ValueError, match="not a split name"):
        Split.parse(text)


def test_the_presets_cv_splits_and_the_curve_points_use_the_one_format():
    assert PRESETS["default"].splits == ["fold-1", "fold-2", "fold-3"]
    repeated = [str(s) for s in Split.cv_folds(2, repeats=2)]
    assert repeated == ["r1-fold-1", "r1-fold-2", "r2-fold-1", "r2-fold-2"]
    assert curve_split(500, 2) == "n500-r2" and curve_point("n500-r2") == (500, 2)
    assert curve_point("fold-1") is None and curve_point(Split("test")) is None


@pytest.mark.parametrize("path", STORES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_every_record_of_the_shipped_stores_loads_and_writes_back_unchanged(path):
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        obj = json.loads(line)
        record = parse_record(line)
        assert isinstance(record, Record), record
        assert record.split == Split.parse(obj["split"]) and record.accuracy == obj.get("accuracy")
        assert record.to_dict() == {**obj, "schema": SCHEMA_VERSION}


def test_unknown_keys_are_kept_and_a_bad_split_is_not_a_record():
    record = Record.from_dict({"dataset": "d", "model": "m", "split": "test", "status": "ok",
                               "params_hash": "h", "mine": [1, 2]})
    assert record.extra == {"mine": [1, 2]} and record.to_dict()["mine"] == [1, 2]
    line = json.dumps({"dataset": "d", "model": "m", "split": "train", "status": "failed",
                       "params_hash": "h"})
    assert "not a split name" in parse_record(line)


def _reference_folder(tmp_path):
    folder = tmp_path / "ref"
    folder.mkdir()
    shutil.copy(REFERENCE / "records.jsonl", folder / "records.jsonl")
    return folder


def test_the_shipped_records_render_the_shipped_tables_cell_for_cell(tmp_path):
    """results/reference/ re-rendered from its records.jsonl: every CSV table the report
    writes is identical to the one there (no figures: the cells are the point)."""
    folder = _reference_folder(tmp_path)
    records = RecordStore(folder / "records.jsonl").reportable()
    rest = [r for r in records if not r.split.is_curve]
    curve = [r for r in records if r.split.is_curve]
    write_report(rest, folder, *choose_run(rest), figures=False)
    write_curve_report(curve, folder, figures=False)
    written = sorted(folder.glob("*.csv"))
    assert {p.name for p in written} >= {"results_all.csv", "results_mnist.csv",
                                         "significance_digits.csv", "robustness_mnist.csv",
                                         "learning_curve_mnist.csv"}
    for path in written:
        pd.testing.assert_frame_equal(pd.read_csv(path), pd.read_csv(REFERENCE / path.name),
                                      obj=path.name)


def test_a_folder_of_two_runs_renders_the_newest_unless_told(tmp_path):
    def rec(preset, split, seed=0):
        return {"dataset": "d", "model": "m", "split": split, "status": "ok", "preset": preset,
                "seed": seed, "params_hash": preset, "accuracy": 0.9, "n_train": 10,
                "n_test": 5}

    records = as_records([rec("default", "test"), rec("quick-cv5", "fold-1"),
                          rec("quick-cv5", "test"), rec("default", "fold-1", seed=1)])
    assert runs_in(records) == [("default", 0, 1), ("quick-cv5", 0, 2), ("default", 1, 1)]
    assert choose_run(records) == ("default", 1)
    assert choose_run(records, preset="quick-cv5") == ("quick-cv5", 0)
    assert choose_run(records, seed=0) == ("quick-cv5", 0)
    assert choose_run(records, preset="default", seed=0) == ("default", 0)
    with pytest.raises(ValueError, match=r"no records for preset 'quick'.*quick-cv5, seed 0"):
        choose_run(records, preset="quick")
