"""A table is the run that was made: runs recorded, identity that covers code and data,
data that cannot be misread, reference folders no run writes into.

Each sequence a user really makes (a file replaced and restored, a parameter changed
and changed back, a model's code fixed, three spellings of one folder...) ends in the
right table or in one usage error before any work, with every file untouched.
"""

import dataclasses
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import cli, one_error, snapshot
from PIL import Image

from mnistbench import load_dataset
from mnistbench.data.datasets import canonical_dataset_name
from mnistbench.estimators.identity import changed_code, code_identity
from mnistbench.harness.execute import record_unit
from mnistbench.harness.options import names_of
from mnistbench.harness.presets import PRESETS
from mnistbench.harness.store import RUNS_FILE, RunLog
from mnistbench.harness.units import plan_units

RESULTS = Path(__file__).resolve().parents[2] / "results" / "reference"
QUICK = ["--preset", "quick", "-q", "--no-figures", "--no-robustness"]






def accuracy_of(out, dataset, model):
    table = pd.read_csv(out / "results_all.csv")
    row = table[(table["dataset"] == dataset) & (table["model"] == model)]
    assert len(row) == 1, table
    return float(row["test_accuracy"].iloc[0])


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def npz_files(tmp_path, digits):
    """``good.npz`` (digits) and ``bad.npz`` (its training labels shuffled)."""
    arrays = {"x_train": digits.X_train, "y_train": digits.y_train, "x_test": digits.X_test,
              "y_test": digits.y_test}
    np.savez(tmp_path / "good.npz", **arrays)
    shuffled = np.random.RandomState(0).permutation(digits.y_train)
    np.savez(tmp_path / "bad.npz", **{**arrays, "y_train": shuffled})
    return tmp_path / "good.npz", tmp_path / "bad.npz"


# ------------------------------------------------------------ 1. report renders the run made
@pytest.mark.e2e
def test_a_replaced_and_restored_file_reports_the_last_run(tmp_path, npz_files, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    good, bad = npz_files
    data, out = tmp_path / "data.npz", tmp_path / "out"
    run = ["run", "--datasets", f"npz:{data}", "--models", "logreg", "--output", out, *QUICK]
    accuracies = []
    for source in (good, bad, good):
        shutil.copy(source, data)
        assert cli(capsys, *run)[0] == 0
        accuracies.append(accuracy_of(out, f"npz:{data.name}", "logreg"))
    assert accuracies[0] == accuracies[2] > 0.9 > 0.3 > accuracies[1]
    tables = {p.name: p.read_bytes() for p in out.glob("results_*")}
    code, _, err = cli(capsys, "report", "--output", out, "--no-figures")
    assert code == 0, err
    assert "3 run(s)" in err and "3 units: 3 reused; finished" in err.splitlines()[3]
    assert {p.name: p.read_bytes() for p in out.glob("results_*")} == tables  # identical


def _models_file(path, body):
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.e2e
def test_a_parameter_changed_and_back_reports_the_run_made(tmp_path, capsys):
    out, models = tmp_path / "out", tmp_path / "models.py"
    run = ["run", "--datasets", "digits", "--models-from", models, "--models", "logreg",
           "--output", out, *QUICK]
    seen = []
    for c in (1.0, 1e-6, 1.0):
        _models_file(models, f"""
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from mnistbench.estimators.features import ImageFlattener
            MODELS = {{"mine": make_pipeline(ImageFlattener(), LogisticRegression(C={c}))}}
            """)
        assert cli(capsys, *run)[0] == 0
        seen.append(accuracy_of(out, "digits", "mine"))
    assert seen[0] == seen[2] != seen[1]
    entries = RunLog(out).load()
    assert [sum(u["used"] == "reused" for u in e["units"]) for e in entries] == [0, 3, 6]


@pytest.mark.e2e
def test_robustness_toggled_reports_the_run_made(tmp_path, capsys):
    out = tmp_path / "out"
    run = ["run", "--datasets", "digits", "--models", "logreg", "--preset", "quick", "-q",
           "--no-figures", "--output", out]
    for extra in ([], ["--no-robustness"], []):
        assert cli(capsys, *run, *extra)[0] == 0
    assert (out / "robustness_digits.csv").exists()
    assert "Robustness" in (out / "report.html").read_text()
    assert cli(capsys, "report", "--output", out, "--no-figures")[0] == 0
    assert "Robustness" in (out / "report.html").read_text()
    first = RunLog(out).load()[1]["run"]  # the run without robustness, chosen by its id
    assert cli(capsys, "report", "--output", out, "--run", first[:22], "--no-figures")[0] == 0
    assert "Robustness" not in (out / "report.html").read_text()


@pytest.mark.e2e
def test_report_run_lists_and_refuses_an_unknown_id(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "run", "--datasets", "digits", "--models", "logreg", "--output", out,
               *QUICK)[0] == 0
    before = snapshot(out)
    code, _, err = cli(capsys, "report", "--output", out, "--run", "1999")
    assert code == 2
    one_error(err, r"no run with run '1999'; this folder holds: \d{8}T.*benchmark, preset quick")
    assert snapshot(out) == before


@pytest.mark.e2e
def test_a_folder_without_runs_renders_as_before_with_a_note(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "run", "--datasets", "digits", "--models", "logreg", "--output", out,
               *QUICK)[0] == 0
    tables = (out / "results_digits.csv").read_bytes()
    (out / RUNS_FILE).unlink()
    code, _, err = cli(capsys, "report", "--output", out, "--no-figures")
    assert code == 0 and "written before runs were recorded" in err
    assert (out / "results_digits.csv").read_bytes() == tables


# ------------------------------------------------------------ 2. model identity covers code
BROKEN = """
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from helpers import answer

    class Mine(BaseEstimator, ClassifierMixin):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.first_ = y[0]
            return self

        def predict(self, X):
            return answer(self, X)

    MODELS = {"mine": Mine()}
    """


@pytest.mark.e2e
def test_a_fixed_class_and_a_fixed_helper_run_again(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the helper module lies beside the models file
    monkeypatch.syspath_prepend(str(tmp_path))
    helpers = tmp_path / "helpers.py"
    helpers.write_text("import numpy as np\n\ndef answer(model, X):\n"
                       "    return np.full(len(X), model.classes_[0])\n")
    models = _models_file(tmp_path / "models.py", BROKEN)
    out = tmp_path / "out"
    run = ["run", "--datasets", "digits", "--models-from", models, "--models", "logreg",
           "--output", out, *QUICK]
    code, _, err = cli(capsys, *run)
    assert code == 0, err
    broken = accuracy_of(out, "digits", "mine")
    assert broken < 0.2
    # the helper fixed: the model's units run again, logreg's are reused
    helpers.write_text("import numpy as np\n\ndef answer(model, X):\n"
                       "    return np.full(len(X), model.classes_[1])\n")
    assert cli(capsys, *run)[0] == 0
    last = RunLog(out).load()[-1]["units"]
    assert {tuple(u["key"][:2]): u["used"] for u in last} == {
        ("digits", "logreg"): "reused", ("digits", "mine"): "computed"}
    # the class itself fixed (a comment is an edit too: the whole file counts)
    models.write_text(models.read_text() + "# fixed\n")
    assert cli(capsys, *run)[0] == 0
    assert sum(u["used"] == "computed" for u in RunLog(out).load()[-1]["units"]) == 3


def test_code_identity_counts_installed_packages_by_version_and_files_by_content(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from mnistbench.estimators.features import ImageFlattener

    code = code_identity(make_pipeline(ImageFlattener(), LogisticRegression()))
    import sklearn

    assert code["dist scikit-learn"] == sklearn.__version__
    assert "dist mnistbench" in code and not any(k.startswith("file ") for k in code)
    assert changed_code(code) == []
    path = tmp_path / "x.py"
    path.write_text("a = 1\n")
    planned = {f"file {path}": "sha256:0"}
    assert changed_code(planned) == [str(path)]


@pytest.mark.e2e
def test_a_unit_whose_model_file_changed_fails_without_a_record_of_it(tmp_path, digits):
    from mnistbench.estimators.user_models import load_models_file

    models = _models_file(tmp_path / "models.py", """
        from sklearn.linear_model import LogisticRegression
        MODELS = {"mine": LogisticRegression}
        """)
    spec = load_models_file(models)["mine"]
    unit = plan_units(["digits"], [spec], PRESETS["quick"])[0]
    models.write_text(models.read_text() + "# edited\n")
    record = record_unit(unit)
    assert record["status"] == "failed"
    assert "the code of model 'mine' changed during the run" in record["error"]


# ------------------------------------------------------------ 3. data identity
@pytest.mark.e2e
def test_a_unit_whose_data_changed_fails_and_records_no_score(tmp_path, npz_files):
    good, bad = npz_files
    data = tmp_path / "data.npz"
    shutil.copy(good, data)
    name = f"npz:{data}"
    planned = load_dataset(name).extra["fingerprint"]
    unit = plan_units([name], ["logreg"], PRESETS["quick"], fingerprints={name: planned})[0]
    assert record_unit(unit)["status"] == "ok"
    shutil.copy(bad, data)  # replaced during the run: a restarted worker reads it
    from mnistbench.harness import execute

    execute._DATA_CACHE.clear()
    record = record_unit(unit)
    assert record["status"] == "failed" and "accuracy" not in record
    assert "the data changed during the run" in record["error"]


def test_three_spellings_of_one_folder_are_one_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    names = names_of(["folder:imgs", "folder:imgs/", "folder:./imgs",
                      f"folder:{tmp_path / 'imgs'}"], "datasets", {})
    assert names == ["folder:imgs"]
    assert canonical_dataset_name("npz:./a/../b.npz") == "npz:b.npz"
    assert canonical_dataset_name("digits") == "digits"


# ------------------------------------------------------------ 4. data that cannot be misread
def _image_folder(root, classes):
    digits = load_dataset("digits")
    for name, label in classes.items():
        (root / name).mkdir(parents=True)
        for k, img in enumerate(digits.X_train[digits.y_train == label][:6]):
            Image.fromarray((img * 15).astype(np.uint8)).resize((28, 28)).save(
                root / name / f"{k}.png")
    return root


def _refused(capsys, tmp_path, dataset, pattern, *extra):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", dataset, "--models", "logreg",
                       "--output", out, *QUICK, *extra)
    assert code == 2, err
    one_error(err, pattern)
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_class_folders_of_one_label_are_refused(tmp_path, capsys):
    root = _image_folder(tmp_path / "imgs", {"1": 1, "01": 7, "2": 2})
    _refused(capsys, tmp_path, f"folder:{root}",
             r"class folders .*imgs/01 and .*imgs/1 name one label; merge them")


@pytest.mark.e2e
@pytest.mark.parametrize("label, shown", [(np.nan, "nan"), (2.5, "2.5")])
def test_nan_or_fractional_labels_are_refused(tmp_path, capsys, digits, label, shown):
    y = digits.y_train.astype(float)
    y[3] = label
    np.savez(tmp_path / "d.npz", x_train=digits.X_train, y_train=y, x_test=digits.X_test,
             y_test=digits.y_test)
    _refused(capsys, tmp_path, f"npz:{tmp_path / 'd.npz'}",
             rf"y_train has 1 label\(s\) that are not whole numbers \(first {shown} at index 3\)")


def test_whole_float_labels_are_integers(tmp_path, digits):
    np.savez(tmp_path / "d.npz", x_train=digits.X_train, y_train=digits.y_train.astype(float),
             x_test=digits.X_test, y_test=digits.y_test.astype(float))
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert ds.y_train.dtype == np.int64 and set(ds.y_train) == set(range(10))


@pytest.mark.e2e
def test_an_image_shape_that_disagrees_with_the_arrays_is_refused(tmp_path, digits):
    from mnistbench import run_benchmark
    from mnistbench.errors import UsageError

    ds = dataclasses.replace(digits, name="mine", X_train=digits.X_train.reshape(-1, 4, 16),
                             X_test=digits.X_test.reshape(-1, 4, 16))  # image_shape (8, 8)
    with pytest.raises(UsageError, match=r"image_shape is 8x8 but x_train holds 4x16 images"):
        run_benchmark([ds], ["logreg"], preset="quick", output=tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()
    flat = dataclasses.replace(ds, X_train=digits.X_train.reshape(-1, 64),
                               X_test=digits.X_test.reshape(-1, 64))
    assert run_benchmark([flat], ["logreg"], preset="quick", output=tmp_path / "out",
                         quiet=True, robustness=False, figures=False)["status"].eq("ok").all()


@pytest.mark.e2e
def test_an_output_inside_a_folder_dataset_is_refused(tmp_path, capsys):
    root = _image_folder(tmp_path / "imgs", {"0": 0, "1": 1})
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", f"folder:{root}/", "--models", "logreg",
                       "--output", root / "out", *QUICK)
    assert code == 2
    one_error(err, r"--output .*imgs/out lies inside the folder dataset folder:.*imgs, whose")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------ 5. reference folders
@pytest.mark.e2e
def test_a_copy_of_the_reference_results_is_read_only_to_runs(tmp_path, capsys):
    ref = tmp_path / "ref"
    ref.mkdir()
    shutil.copy(RESULTS / "records.jsonl", ref / "records.jsonl")
    shutil.copy(RESULTS / "results_digits.csv", ref / "results_digits.csv")
    before = snapshot(ref)
    for command in (["run", "--datasets", "digits", "--models", "logreg", *QUICK],
                    ["run-all", "--dataset", "digits", "-q"],
                    ["learning-curve", "--datasets", "digits", "--models", "logreg", "-q"]):
        code, _, err = cli(capsys, *command, "--output", ref)
        assert code == 2, (command, err)
        one_error(err, r"ref holds records made elsewhere \(no owner file.*choose a fresh "
                       r"--output.*report --output .*ref` to re-render them")
        assert snapshot(ref) == before
    # report still re-renders it, as results/ is made
    code, _, err = cli(capsys, "report", "--output", ref, "--no-figures")
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(ref / "results_digits.csv"),
                                  pd.read_csv(RESULTS / "results_digits.csv"))


@pytest.mark.e2e
def test_run_entries_name_the_options_data_models_and_units(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "run", "--datasets", "digits", "--models", "logreg", "--output", out,
               *QUICK)[0] == 0
    (entry,) = RunLog(out).load()
    assert entry["kind"] == "benchmark" and entry["status"] == "finished"
    assert entry["preset"] == "quick" and entry["seed"] == 0
    assert entry["options"]["robustness"] is False and entry["datasets"] == {"digits": None}
    assert entry["models"] == {"logreg": {"origin": "built-in"}}
    records = {json.loads(x)["id"]: json.loads(x) for x in
               (out / "records.jsonl").read_text().splitlines()}
    assert [u["used"] for u in entry["units"]] == ["computed"] * 3
    assert {u["record"] for u in entry["units"]} == set(records)
