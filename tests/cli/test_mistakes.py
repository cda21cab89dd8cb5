"""Every mistake caught before the work: a plain scikit-learn classifier just works beside
the zoo, and a model, option or script that would fail every unit is one usage error
naming it, with every file untouched."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import cli, one_error, snapshot

from mnistbench.cli import main
from mnistbench.estimators import user_models
from mnistbench.estimators.devices import nvidia_gpus

QUICK = ["--preset", "quick", "-q", "--no-figures", "--no-robustness"]


@pytest.fixture(scope="module")
def digits_ds():
    from mnistbench import load_dataset

    return load_dataset("digits")








def models_file(folder, body, name="models.py"):
    path = Path(folder) / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.e2e
def test_plain_scikit_learn_classifiers_get_flat_rows(tmp_path, capsys):
    path = models_file(tmp_path, """
        from sklearn.ensemble import ExtraTreesClassifier
        from sklearn.linear_model import LogisticRegression
        MODELS = {"plain-logreg": LogisticRegression(max_iter=3000),
                  "extra-trees": ExtraTreesClassifier(n_estimators=30)}
        """)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models-from", path,
                       "--output", out, "--preset", "quick", "-q", "--no-figures")
    assert code == 0, err
    table = pd.read_csv(out / "results_all.csv").set_index("model")
    assert (table["status"] == "ok").all()
    assert table.loc["plain-logreg", "test_accuracy"] > 0.9
    assert table.loc["extra-trees", "test_accuracy"] > 0.9
    specs = user_models.load_models_file(path)
    assert {s.input for s in specs.values()} == {"rows"}


def test_image_models_still_get_images():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from mnistbench import KerasCNNClassifier
    from mnistbench.estimators.features import HOGTransformer, ImageFlattener

    for est, taken in [(KerasCNNClassifier(), "images"), (LogisticRegression(), "rows"),
                       (make_pipeline(ImageFlattener(), LogisticRegression()), "images"),
                       (make_pipeline(HOGTransformer(), LogisticRegression()), "images"),
                       (user_models.CustomModel(LogisticRegression(), input="images"), "images")]:
        (spec,) = user_models.resolve_models([("m", est)])
        assert spec.input == taken, est


BAD_MODELS = {
    "no set_params": ("""
        import numpy as np
        class NoSetParams:
            def get_params(self, deep=True):
                return {}
            def fit(self, X, y):
                self.c = y[0]
                return self
            def predict(self, X):
                return np.full(len(X), self.c)
        MODELS = {"mine": NoSetParams()}
        """, r"model 'mine' \(file .*\) on digits: it has no set_params"),
    "wrong length": ("""
        import numpy as np
        from sklearn.dummy import DummyClassifier
        class Short(DummyClassifier):
            def predict(self, X):
                return super().predict(X)[:-1]
        MODELS = {"mine": Short()}
        """, r"predict returned an array of shape \(29,\) for 30 images; it must return one"),
    "label type": ("""
        import numpy as np
        from sklearn.dummy import DummyClassifier
        class Text(DummyClassifier):
            def predict(self, X):
                return super().predict(X).astype(str)
        MODELS = {"mine": Text()}
        """, r"predict returned label\(s\) '0' not among the training labels \[0, 1, 2"),
    "raises": ("""
        from sklearn.dummy import DummyClassifier
        class Boom(DummyClassifier):
            def fit(self, X, y):
                raise RuntimeError("no fit today")
        MODELS = {"mine": Boom()}
        """, r"a smoke fit and predict on 30 training images raised RuntimeError: no fit today"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_a_model_that_would_fail_every_unit_is_refused_before_work(tmp_path, capsys, case):
    body, message = BAD_MODELS[case]
    path = models_file(tmp_path, body)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models-from", path,
                       "--output", tmp_path / "out", *QUICK)
    assert code == 2
    one_error(err, message)
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_bad_grid_key_is_refused_before_work(tmp_path, capsys):
    path = models_file(tmp_path, """
        from sklearn.linear_model import LogisticRegression
        from mnistbench import CustomModel
        MODELS = {"mine": CustomModel(LogisticRegression(), grid={"Cee": [1, 2]})}
        """)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models-from", path, "--tune",
                       "--output", tmp_path / "out", *QUICK)
    assert code == 2
    one_error(err, r"its --tune grid \['Cee'\] does not fit its parameters.*e.g. C, ")
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_models_of_a_file_are_chosen_by_name_and_import_their_neighbours(tmp_path, capsys,
                                                                         monkeypatch):
    (tmp_path / "lib").mkdir()
    models_file(tmp_path / "lib", "from sklearn.tree import DecisionTreeClassifier\n"
                "def tree():\n    return DecisionTreeClassifier(max_depth=5)\n", "helpers.py")
    path = models_file(tmp_path / "lib", """
        from helpers import tree
        from sklearn.dummy import DummyClassifier
        MODELS = {"tree": tree(), "dummy": DummyClassifier()}
        """)
    monkeypatch.chdir(tmp_path)  # not the file's folder
    out = tmp_path / "out"
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models", "logreg", "tree",
                       "--models-from", path, "--output", out, *QUICK)
    assert code == 0, err
    assert sorted(pd.read_csv(out / "results_all.csv")["model"]) == ["logreg", "tree"]
    assert str(path.parent) not in sys.path  # only while the file loads


@pytest.mark.e2e
def test_a_models_file_that_starts_a_run_when_loaded_is_refused(tmp_path, capsys):
    path = models_file(tmp_path, """
        from sklearn.dummy import DummyClassifier
        from mnistbench import run_benchmark
        MODELS = {"dummy": DummyClassifier()}
        run_benchmark(["digits"], MODELS)
        """)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models-from", path, *QUICK,
                       "--output", tmp_path / "out")
    assert code == 2
    one_error(err, r"--models-from .*models.py: it calls run_benchmark when it is loaded.*"
                   r"put that call under `if __name__ == \"__main__\":`")
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_a_broken_entry_point_says_why_when_named(monkeypatch, capsys, tmp_path):
    class Broken:
        name, value, dist = "fancy", "fancy_pkg:MODEL", None

        def load(self):
            raise ImportError("No module named 'fancy_pkg'")

    from importlib import metadata

    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [Broken()])
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models", "fancy", *QUICK,
                       "--output", tmp_path / "out")
    assert code == 2
    one_error(err, r"model 'fancy': entry point fancy failed to load \(ImportError: No module "
                   r"named 'fancy_pkg'\); fix or reinstall that package")


@pytest.mark.skipif(bool(nvidia_gpus()), reason="this machine has a GPU")
@pytest.mark.parametrize("command", [["run", "--datasets", "digits", "--models", "logreg"],
                                     ["train", "--model", "logreg", "--dataset", "digits"]])
def test_device_gpu_without_a_gpu_is_refused(tmp_path, capsys, command):
    code, _, err = cli(capsys, *command, "--device", "gpu", "--output", tmp_path / "out")
    assert code == 2
    one_error(err, r"--device gpu: this machine has no usable GPU.*mnistbench info.*--device "
                   r"auto")
    assert snapshot(tmp_path) == {}


@pytest.mark.e2e
def test_learning_curve_seeds_are_capped_before_work(tmp_path, capsys):
    code, _, err = cli(capsys, "learning-curve", "--datasets", "digits", "--seeds", "100000",
                       "--output", tmp_path / "out", "-q")
    assert code == 2
    one_error(err, r"could plan [\d,]+ units, more than 20,000; lower --seeds \(100,000\)")
    assert snapshot(tmp_path) == {}


@pytest.mark.e2e
def test_a_quoted_tilde_output_is_the_home_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "run", "--datasets", "digits", "--models", "logreg",
                       "--output", "~/x", *QUICK)
    assert code == 0, err
    assert (tmp_path / "home" / "x" / "results_digits.csv").exists()
    assert not (tmp_path / "~").exists()
    from mnistbench.harness import RunOptions

    assert RunOptions(output="~/y").output == str(tmp_path / "home" / "y")


@pytest.mark.e2e
def test_a_script_on_standard_input_runs_its_workers(tmp_path):
    script = (f"from mnistbench import run_benchmark\n"
              f"df = run_benchmark(['digits'], ['logreg'], preset='quick', quiet=True, "
              f"figures=False, robustness=False, output={str(tmp_path / 'out')!r})\n"
              "print('status', set(df['status']))\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONWARNINGS": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "status {'ok'}" in done.stdout


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated"])
def test_a_damaged_corruption_cache_is_made_again_with_one_warning(tmp_path, damage):
    from mnistbench import load_dataset
    from mnistbench.evaluation.robustness import _MEMO, corrupted_sets

    ds = load_dataset("digits")
    first = corrupted_sets("digits", ds, 50, cache=tmp_path)
    (path,) = tmp_path.rglob("*.npz")
    path.write_bytes(damage)
    _MEMO.clear()
    with pytest.warns(UserWarning, match=r"a damaged cache file .*made again"):
        again = corrupted_sets("digits", ds, 50, cache=tmp_path)
    assert sorted(again) == sorted(first)
    assert all((again[k] == first[k]).all() for k in first)
    _MEMO.clear()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # made again: read quietly now
        corrupted_sets("digits", ds, 50, cache=tmp_path)


# ------------------------------------------------------------ raw messages, each one line
def _png(path, array, mode=None):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _digit_folder(root, per_class=6, names=None):
    import numpy as np

    from mnistbench import load_dataset

    ds = load_dataset("digits")
    for label in range(3):
        for k, img in enumerate(ds.X_train[ds.y_train == label][:per_class]):
            name = (names or {}).get(label, str(label))
            _png(root / name / f"{k}.png", np.kron(img * 15, np.ones((4, 4))).astype(np.uint8))
    return root


@pytest.fixture(scope="module")
def skops_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m.skops"
    assert main(["train", "--model", "logreg", "--dataset", "digits", "--output", str(out),
                 "-q"]) == 0
    return out


def _npz(path, **changes):
    import numpy as np

    from mnistbench import load_dataset

    ds = load_dataset("digits")
    arrays = {"x_train": ds.X_train, "y_train": ds.y_train, "x_test": ds.X_test,
              "y_test": ds.y_test, **changes}
    np.savez(path, **arrays)
    return path


MESSAGES = {
    "blank folder": (lambda t: ["run", "--datasets", f"folder:{_blank_folder(t)}"], 1,
                     r"none of the 6 image\(s\) could be read \(first: .*blank.*\); add readable"),
    "two images per class": (
        lambda t: ["run", "--datasets", f"folder:{_digit_folder(t / 'two', per_class=2)}"], 1,
        r"6 readable image\(s\) in 3 classes .* too few for a stratified train/test split "
        r"with 25% test.*train/ and test/ folders"),
    "non-ASCII digit folders": (
        lambda t: ["run", "--datasets",
                   f"folder:{_digit_folder(t / 'nd', names={0: '٠', 1: '١'})}"], 0, None),
    "pixel_max text": (lambda t: ["run", "--datasets", f"npz:{_npz(t / 'd.npz', pixel_max='sixteen')}"],
                       1, r"pixel_max is .*'sixteen'.*, not a whole number; give the largest"),
    "text file named npz": (lambda t: ["run", "--datasets", f"npz:{_text(t / 'd.npz')}"], 1,
                            r"d.npz is not a NumPy .npz archive \(its bytes are no zip file\); "
                            r"save the arrays with numpy.savez"),
    "report on a file": (lambda t: ["report", "--output", _text(t / "f.txt")], 2,
                         r"--output .*f.txt is a file, not a results folder"),
    "train negative seed": (lambda t: ["train", "--model", "logreg", "--dataset", "digits",
                                       "--seed", "-5", "--output", t / "m.skops"], 2,
                            r"seed=-5: must be a whole number from 0 to 4294967295"),
}


def _blank_folder(root):
    import numpy as np

    for name in ("a", "b"):
        for k in range(3):
            _png(root / "blank" / name / f"{k}.png", np.full((40, 40), 255, np.uint8))
    return root / "blank"


def _text(path):
    path.write_text("just some text\n")
    return path


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_raw_messages_became_one_line_naming_the_fix(tmp_path, capsys, case):
    make, code, pattern = MESSAGES[case]
    argv = make(tmp_path)
    if argv[0] == "run":
        argv += ["--models", "logreg", "--output", tmp_path / "out", *QUICK, "--cv", "2"]
    before = snapshot(tmp_path)
    got, _, err = cli(capsys, *argv)
    assert got == code, err
    if pattern is None:
        assert "Traceback" not in err
        return
    one_error(err, pattern)
    assert snapshot(tmp_path) == before


@pytest.mark.e2e
def test_model_file_mistakes_name_the_file(tmp_path, capsys, skops_model):
    import shutil

    renamed = tmp_path / "m.keras"
    shutil.copy(skops_model, renamed)
    image = Path(__file__).resolve().parents[1] / "fixtures" / "seventeen.png"
    for model, pattern in [(renamed, r"a .skops model file renamed to .keras; rename it back to "
                                     r".*m.skops"),
                           (tmp_path, r"is a folder; give the model file itself")]:
        code, _, err = cli(capsys, "predict", image, "--model", model)
        assert code == 1
        one_error(err, pattern)


def test_odd_images_are_read(tmp_path):
    import numpy as np

    from mnistbench.data.imaging import load_image, to_mnist

    tall = np.full((3000, 20), 255, np.uint8)
    tall[100:2900, 8:12] = 0
    white_ink = np.zeros((60, 60, 4), np.uint8)
    white_ink[10:50, 27:33] = 255  # white, opaque strokes on a transparent sheet
    black_ink = np.full((60, 60, 4), 255, np.uint8)
    black_ink[10:50, 27:33, :3] = 0
    digits = {}
    for name, array, mode in [("tall", tall, None), ("white", white_ink, "RGBA"),
                              ("black", black_ink, "RGBA")]:
        path = _png(tmp_path / f"{name}.png", array, mode)
        digits[name] = to_mnist(load_image(path), multiple=False, source=str(path)).digits[0]
    assert digits["tall"].max() == 255
    np.testing.assert_array_equal(digits["white"], digits["black"])


@pytest.mark.e2e
def test_a_dataset_object_s_mistakes_are_named(tmp_path, digits_ds):
    import dataclasses

    from mnistbench import run_benchmark
    from mnistbench.errors import MnistbenchError

    ragged = dataclasses.replace(digits_ds, name="mine",
                                 X_train=[x for x in digits_ds.X_train[:-1]] + [np.zeros((4, 4))])
    with pytest.raises(MnistbenchError, match=r"dataset 'mine': X_train is ragged .*numpy.stack"):
        run_benchmark([ragged], ["logreg"], preset="quick", output=tmp_path / "o", quiet=True)
    floats = dataclasses.replace(digits_ds, name="floats", X_train=digits_ds.X_train / 16.0,
                                 X_test=digits_ds.X_test / 16.0, pixel_max=1,
                                 image_shape=None)
    df = run_benchmark([floats], ["logreg"], preset="quick", output=tmp_path / "o", quiet=True,
                       robustness=False, figures=False)
    assert (df["status"] == "ok").all() and df["test_accuracy"].iloc[0] > 0.9
    assert not (tmp_path / "o" / "records.jsonl").read_text().count("ragged")


def test_a_full_disk_names_the_file_and_keeps_the_records(tmp_path, monkeypatch):
    import errno

    from mnistbench.errors import OutputError
    from mnistbench.harness import store as store_module

    store = store_module.RecordStore(tmp_path / "records.jsonl")
    store.append({"dataset": "d", "model": "m", "split": "test", "status": "failed",
                  "params_hash": "h"})
    before = (tmp_path / "records.jsonl").read_bytes()

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "write", full)
    with pytest.raises(OutputError, match=r"records.jsonl: cannot append to it \(No space left "
                       r"on device\); free space .*every unit recorded so far is kept"):
        store.append({"dataset": "d", "model": "m", "split": "fold-1", "status": "failed",
                      "params_hash": "h"})
    monkeypatch.undo()
    assert (tmp_path / "records.jsonl").read_bytes() == before
