"""``mnistbench compare``: do two runs give the same answers, row by row?"""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _cli import cli

from mnistbench.cli import main

RESULTS = Path(__file__).resolve().parents[2] / "results" / "reference"




@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """A quick run of three models on digits: the reference of these tests."""
    out = tmp_path_factory.mktemp("a") / "a"
    assert main(["run", "--datasets", "digits", "--models", "logreg", "svc", "random-forest",
                 "--preset", "quick", "--no-figures", "--no-robustness", "-q",
                 "--output", str(out)]) == 0
    return out


def _copy(run_a, tmp_path, edit=None):
    """Run A's folder copied as B, its records edited by ``edit(list of dicts)``."""
    b = tmp_path / "b"
    shutil.copytree(run_a, b)
    path = b / "records.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    if edit:
        edit(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return b


def _test(records, model):
    return next(r for r in records if r["model"] == model and r["split"] == "test")


@pytest.mark.e2e
def test_a_run_against_itself_gives_the_same_answers(run_a, capsys, tmp_path):
    code, out, _ = cli(capsys, "compare", run_a, run_a, "--json", "--output", tmp_path / "c")
    assert code == 0
    result = json.loads(out)
    assert result["rows_compared"] == 3 and result["same_rows"] == 3
    assert {r["model"] for r in result["rows"]} == {"logreg", "svc", "random-forest"}
    for row in result["rows"]:
        assert row["same"] and row["only_a"] == row["only_b"] == 0
        assert row["mcnemar_p"] == row["mcnemar_p_holm"] == 1.0
        assert row["accuracy_a"] == row["accuracy_b"] and row["cv_inside"] is True
        assert row["fit_time_ratio"] == pytest.approx(1.0)
    assert result["summary"].startswith("3 of 3 rows give the same answers; B's fits took "
                                        "1.00 times A's (CNNs n/a, classic models 1.00)")
    written = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert written == [f"compare_{s}.{e}" for s in ("all", "digits")
                       for e in ("csv", "html", "md")]
    table = pd.read_csv(tmp_path / "c" / "compare_all.csv")
    assert table["same"].all() and len(table) == 3


@pytest.mark.e2e
def test_a_tampered_row_is_different_and_the_others_stay_the_same(run_a, capsys, tmp_path):
    def tamper(records):  # logreg's test predictions recorded under svc's name
        _test(records, "svc")["predictions"] = _test(records, "logreg")["predictions"]

    b = _copy(run_a, tmp_path, tamper)
    code, out, _ = cli(capsys, "compare", run_a, b, "--json")
    assert code == 0  # whatever the verdict
    rows = {r["model"]: r for r in json.loads(out)["rows"]}
    assert not rows["svc"]["same"] and rows["svc"]["mcnemar_p"] < 0.05
    assert rows["svc"]["mcnemar_p_holm"] < 0.05 and rows["svc"]["only_a"] > 0
    assert re.match(r"McNemar p \(Holm\) \S+ < 0.05: \d+ test images right only in A",
                    rows["svc"]["why"])
    assert rows["logreg"]["same"] and rows["random-forest"]["same"]
    code, out, _ = cli(capsys, "compare", run_a, b)
    assert "2 of 3 rows give the same answers" in out and "no: McNemar" in out


@pytest.mark.e2e
def test_different_test_sets_are_refused(run_a, capsys, tmp_path):
    def other_images(records):
        for r in records:
            if r["split"] == "test":
                r["test_set"] = "0" * 16

    b = _copy(run_a, tmp_path, other_images)
    code, out, err = cli(capsys, "compare", run_a, b, "--output", tmp_path / "c")
    assert code == 2 and out == ""
    assert re.search(r"^error: the runs scored different test images on digits", err, re.M)
    assert not (tmp_path / "c").exists()


@pytest.mark.e2e
def test_no_row_in_common_is_refused(run_a, capsys, tmp_path):
    def rename(records):
        for r in records:
            r["dataset"] = "other"

    code, _, err = cli(capsys, "compare", run_a, _copy(run_a, tmp_path, rename))
    assert code == 2 and "no (dataset, model) row in common" in err


@pytest.mark.e2e
def test_partly_different_model_sets_name_the_rest(run_a, capsys, tmp_path):
    b = tmp_path / "b2"
    assert main(["run", "--datasets", "digits", "--models", "logreg", "xgboost", "--preset",
                 "quick", "--no-figures", "--no-robustness", "-q", "--output", str(b)]) == 0
    code, out, _ = cli(capsys, "compare", run_a, b, "--json")
    result = json.loads(out)
    assert result["rows_compared"] == 1 and result["rows"][0]["model"] == "logreg"
    assert result["only_a"] == [["digits", "random-forest"], ["digits", "svc"]]
    assert result["only_b"] == [["digits", "xgboost"]]


@pytest.mark.e2e
def test_the_shipped_reference_compares_with_itself_and_a_copy_of_a_run(capsys, tmp_path,
                                                                        run_a):
    code, out, _ = cli(capsys, "compare", RESULTS, RESULTS, "--json")
    result = json.loads(out)
    assert code == 0 and result["rows_compared"] == result["same_rows"] >= 24
    code, out, _ = cli(capsys, "compare", RESULTS, run_a)  # quick against default
    assert code == 0 and "A and B ran different presets (default / quick)" in out


@pytest.mark.e2e
def test_report_reference_adds_a_section(run_a, capsys, tmp_path):
    b = _copy(run_a, tmp_path)
    code, _, err = cli(capsys, "report", "--output", b, "--reference", run_a, "--no-figures")
    assert code == 0, err
    html = (b / "report.html").read_text()
    assert "Same answers as the reference?" in html and "3 of 3 rows give the same" in html
    assert (b / "compare_all.md").exists()
