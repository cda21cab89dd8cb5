"""train / predict / folder datasets: saved models and users' own images."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistbench import load_dataset
from mnistbench.cli import main
from mnistbench.data.datasets import (
    DataUnavailableError,
    DataVerificationError,
    load_image_folder,
)
from mnistbench.estimators.persist import ModelFileError, load_model, read_metadata, save_model
from mnistbench.reporting.tables import file_part

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures"
PER_CLASS = 30


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, mnist):
    """MNIST training digits as PNG files, dark ink on white, 3x larger, one folder per class."""
    root = tmp_path_factory.mktemp("own") / "digits"
    for label in range(10):
        (root / str(label)).mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(mnist.y_train == label)[:PER_CLASS]):
            img = Image.fromarray(255 - mnist.X_train[i]).resize((84, 84), Image.BILINEAR)
            img.save(root / str(label) / f"{k}.png")
    (root / "README.txt").write_text("not a class")
    (root / "3" / "notes.txt").write_text("ignored: not an image suffix")
    return root


@pytest.fixture(scope="module")
def folder_model(digit_folder, tmp_path_factory, mnist):
    """logreg trained on the folder dataset (28x28 MNIST form) through the CLI."""
    out = tmp_path_factory.mktemp("models") / "logreg"
    assert main(["train", "--model", "logreg", "--dataset", f"folder:{digit_folder}",
                 "--output", str(out), "--quiet"]) == 0
    return out.with_suffix(".skops")


def test_folder_dataset(digit_folder, tmp_path):
    ds = load_image_folder(digit_folder, cache=tmp_path)
    assert ds.X_train.shape[1:] == (28, 28) and ds.X_train.dtype == np.uint8
    assert len(ds.y_train) + len(ds.y_test) == 10 * PER_CLASS
    assert ds.y_train.dtype == np.int64 and list(ds.classes) == list(range(10))
    assert np.ptp(np.bincount(ds.y_test)) <= 1  # stratified
    assert ds.name == f"folder:{digit_folder}" and ds.pixel_max == 255
    # cached by content: same arrays, and a changed folder gets a new fingerprint
    again = load_image_folder(digit_folder, cache=tmp_path)
    assert np.array_equal(again.X_train, ds.X_train)
    assert again.extra["fingerprint"] == ds.extra["fingerprint"]
    assert load_dataset(f"folder:{digit_folder}", cache=tmp_path).extra == ds.extra


def test_folder_with_own_split_strings_and_bad_files(tmp_path, mnist):
    root = tmp_path / "letters"
    for split, n in (("train", 4), ("test", 2)):
        for label in ("cat", "dog"):
            d = root / split / label
            d.mkdir(parents=True)
            for k in range(n):
                Image.fromarray(mnist.X_train[k + (0 if label == "cat" else 50)]).save(d / f"{k}.png")
    (root / "train" / "cat" / "broken.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(root / "train" / "dog" / "blank.png")
    with pytest.warns(UserWarning, match="skipped 2 image"):
        ds = load_image_folder(root, cache=tmp_path / "c")
    assert ds.X_train.shape[0] == 8 and ds.X_test.shape[0] == 4
    assert set(ds.classes) == {"cat", "dog"}


def test_folder_errors(tmp_path):
    with pytest.raises(DataUnavailableError, match="no such folder"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "only" / "a").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "only" / "a" / "x.png")
    with pytest.raises(DataUnavailableError, match="at least two"):
        load_image_folder(tmp_path / "only")
    root = tmp_path / "sizes"
    for label, size in (("a", 10), ("b", 12)):
        (root / label).mkdir(parents=True)
        for k in range(2):
            Image.new("L", (size, size)).save(root / label / f"{k}.png")
    with pytest.raises(DataVerificationError, match="different sizes"):
        load_image_folder(root, prepare=False, cache=tmp_path / "c")


@pytest.mark.e2e
def test_run_all_on_a_folder(digit_folder, tmp_path, capsys):
    code = main(["run-all", "--dataset", f"folder:{digit_folder}", "--preset", "quick",
                 "--cv", "2", "--output", str(tmp_path / "out"), "--quiet", "--no-figures"])
    assert code == 0
    stem = file_part(f"folder:{digit_folder}")
    assert stem.startswith("folder-") and "-digits-" in stem and len(stem) <= 69
    tables = sorted(p.name for p in (tmp_path / "out").glob("results_folder-*"))
    assert tables == [f"results_{stem}.{ext}" for ext in ("csv", "html", "md", "tex")]
    records = [json.loads(line) for line in open(tmp_path / "out" / "records.jsonl")]
    assert {r["dataset"] for r in records} == {f"folder:{digit_folder}"}
    assert all(r["status"] == "ok" for r in records)


@pytest.mark.e2e
def test_train_writes_a_model_with_metadata(folder_model, digit_folder):
    meta = read_metadata(folder_model)
    assert meta["model"] == "logreg" and meta["dataset"] == f"folder:{digit_folder}"
    assert meta["image_shape"] == [28, 28] and meta["pixel_max"] == 255
    assert meta["classes"] == list(range(10)) and 0.5 < meta["test_accuracy"] <= 1
    assert {"mnistbench", "scikit-learn", "skops"} <= set(meta["versions"])
    model, meta2 = load_model(folder_model)
    ds = load_dataset(f"folder:{digit_folder}")
    assert meta2 == meta and model.score(*ds.test) == meta["test_accuracy"]  # the same model


@pytest.mark.e2e
def test_predict_example_images(folder_model, capsys):
    code = main(["predict", str(EXAMPLES / "seventeen.png"), str(EXAMPLES / "four.jpg"),
                 "--model", str(folder_model), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [len(r["digits"]) for r in out] == [2, 1]
    for r in out:
        assert r["error"] is None and len(r["text"]) == len(r["digits"])
        for d in r["digits"]:
            probs = [p for _, p in d["top"]]
            assert len(probs) == 3 and probs == sorted(probs, reverse=True)
            assert d["kind"] == "probability" and d["label"] == d["top"][0][0]


@pytest.mark.e2e
def test_predict_keeps_going_past_bad_files(folder_model, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 250).save(blank)
    notimg = tmp_path / "doc.png"
    notimg.write_text("hello")
    code = main(["predict", str(tmp_path / "missing.png"), str(blank), str(notimg),
                 str(EXAMPLES / "seventeen.png"), "--model", str(folder_model)])
    assert code == 1
    out, err = capsys.readouterr()
    assert "seventeen.png:" in out and "digit 2:" in out
    assert "missing.png: no such file" in err
    assert "blank.png" in err and "blank" in err.split("blank.png", 1)[1]
    assert "doc.png: not an image" in err
    assert "Traceback" not in err


@pytest.mark.e2e
def test_predict_refuses_a_model_for_other_images(tmp_path, capsys):
    out = tmp_path / "digits-logreg.skops"
    assert main(["train", "--model", "logreg", "--dataset", "digits", "--output", str(out),
                 "-q"]) == 0
    assert main(["predict", str(EXAMPLES / "four.jpg"), "--model", str(out)]) == 1
    err = capsys.readouterr().err
    assert "'digits'" in err and "8x8" in err and "--dataset mnist" in err


@pytest.mark.e2e
def test_svc_models_report_scores_not_probabilities(digit_folder, tmp_path, capsys):
    out = tmp_path / "svc.skops"
    assert main(["train", "--model", "svc", "--dataset", f"folder:{digit_folder}",
                 "--output", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["predict", str(EXAMPLES / "four.jpg"), "--model", str(out)]) == 0
    assert "score" in capsys.readouterr().out


def evil(x):  # a function a malicious file could name
    return x


def test_unsafe_skops_files_need_explicit_trust(tmp_path, mnist):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = mnist.X_train[:200].reshape(200, -1)
    model = make_pipeline(FunctionTransformer(evil), LogisticRegression(max_iter=50))
    model.fit(X, mnist.y_train[:200])
    path = save_model(model, tmp_path / "m.skops",
                      {"model": "custom", "dataset": "mnist", "image_shape": [28, 28],
                       "pixel_max": 255})
    with pytest.raises(ModelFileError, match="--trust") as exc:
        load_model(path)
    assert "evil" in str(exc.value)
    loaded, _ = load_model(path, trust=True)
    assert np.array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.e2e
def test_model_file_errors(tmp_path, folder_model, capsys):
    with pytest.raises(ModelFileError, match="no such model file"):
        read_metadata(tmp_path / "none.skops")
    junk = tmp_path / "junk.keras"
    junk.write_text("nope")
    with pytest.raises(ModelFileError, match="not a model file"):
        read_metadata(junk)
    plain = tmp_path / "plain.skops"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("schema.json", "{}")
    with pytest.raises(ModelFileError, match="not a model file"):
        read_metadata(plain)
    assert main(["predict", str(EXAMPLES / "four.jpg"), "--model", str(junk)]) == 1
    assert "not a model file" in capsys.readouterr().err


@pytest.mark.e2e
def test_train_checks_its_arguments_before_fitting(tmp_path, capsys):
    assert main(["train", "--model", "logreg", "--dataset", "digits",
                 "--output", str(tmp_path / "m.keras")]) == 1
    assert "use --output" in capsys.readouterr().err and not (tmp_path / "m.keras").exists()
    assert main(["train", "--model", "logreg", "--dataset", "digits", "--output",
                 str(tmp_path / "m"), "--param", "nope=1"]) == 2  # a usage error
    assert "no parameter 'nope'" in capsys.readouterr().err
    assert main(["train", "--model", "logreg", "--dataset", "digits", "--output",
                 str(tmp_path / "m"), "--param", "logreg__C=0.5", "-q"]) == 0
    assert read_metadata(tmp_path / "m.skops")["overrides"] == {"logreg__C": 0.5}


@pytest.mark.e2e
def test_cnn_train_and_predict_through_the_cli(digit_folder, tmp_path):
    out = tmp_path / "cnn.keras"
    run = subprocess.run(
        [sys.executable, "-m", "mnistbench", "train", "--model", "cnn-baseline", "--dataset",
         f"folder:{digit_folder}", "--output", str(out), "--epochs", "2"],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Epoch 2/2" in run.stdout + run.stderr  # progress while it trains
    meta = read_metadata(out)
    assert meta["model"] == "cnn-baseline"
    assert meta["overrides"] == {"epochs": 2, "min_steps": 0}  # --epochs: exactly 2
    assert meta["params"]["epochs"] == 2 and meta["params"]["architecture"] == "baseline"
    assert meta["estimator"] == "KerasCNNClassifier" and "keras" in meta["versions"]
    run = subprocess.run(
        [sys.executable, "-m", "mnistbench", "predict", str(EXAMPLES / "seventeen.png"),
         "--model", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{EXAMPLES / 'seventeen.png'}: ")
    assert "digit 1:" in run.stdout and "digit 2:" in run.stdout


# --------------------------------------------------------------------------- low confidence
def test_low_confidence_threshold_is_the_measured_one():
    """The constant must be what the confidence-threshold experiment chose, not a guess."""
    from mnistbench.harness.model_files import LOW_CONFIDENCE

    measured = json.loads((Path(__file__).parents[2] / "results" / "experiments"
                          / "confidence_threshold.json")
                          .read_text())
    assert measured["chosen"] == LOW_CONFIDENCE


def test_predict_flags_low_confidence_cnn_answers_only(tmp_path, capsys):
    from mnistbench.estimators.cnn import KerasCNNClassifier
    from mnistbench.harness.model_files import LOW_CONFIDENCE, predict_files

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 10
    info = {"model": "m", "dataset": "mnist", "image_shape": [28, 28], "pixel_max": 255}
    unsure = save_model(KerasCNNClassifier(architecture="baseline", epochs=1, min_steps=0, filters=4,
                                           dense_units=8, random_state=0).fit(X, y),
                        tmp_path / "unsure.keras", info)  # ~0.1 for every class
    image = Path(__file__).resolve().parents[1] / "fixtures" / "four.jpg"
    results, _ = predict_files([image], unsure)
    digit = results[0].digits[0]
    assert digit.top[0][1] < LOW_CONFIDENCE and digit.low_confidence is True
    assert main(["predict", str(image), "--model", str(unsure)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("(low confidence)") and f"p < {LOW_CONFIDENCE}" in out
    classic = save_model(_fitted_logreg(X, y), tmp_path / "classic.skops", info)
    results, _ = predict_files([image], classic)
    assert results[0].digits[0].low_confidence is None  # no threshold measured for it


def _fitted_logreg(X, y):
    from mnistbench import make_model

    return make_model("logreg", random_state=0).fit(X, y)
