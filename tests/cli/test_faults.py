"""Fault injection: bad arguments, bad files, bad records, bad data, interrupted runs.

Every case checks three things:

1. the message: one ``error:`` line that names the problem and the fix, and no
   traceback (for the Python API: the exception's type and message);
2. the exit code (1 a failure, 2 a bad argument; for the API, the exception class);
3. nothing already computed is lost: the records of an earlier run, the MNIST cache,
   a fitted model, the answers for the good images of the same command.

Where a case is a documented choice rather than an error (huge or negative pixel
values, float labels, a damaged cache being replaced), the test pins that behaviour.
"""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from _cli import cli as run_cli
from PIL import Image

from mnistbench import load_dataset, make_model
from mnistbench.cli import main
from mnistbench.data import datasets
from mnistbench.estimators.persist import save_model
from mnistbench.harness import RecordStore

DATA = Path(__file__).resolve().parents[1] / "fixtures"
GOOD_IMAGE = DATA / "four.jpg"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- helpers
def assert_error(err, *patterns):
    """Exactly one error line, matching every pattern, and no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if re.match(r"^(\S+( \S+)?: )?error:", line)]
    assert len(lines) == 1, err
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])


def png_claiming(width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished quick run (logreg on digits): the work that must never be lost."""
    out = tmp_path_factory.mktemp("finished") / "run"
    code = main(["run", "--models", "logreg", "--datasets", "digits", "--preset", "quick",
                 "--output", str(out), "-q", "--no-figures"])
    assert code == 0
    return out


@pytest.fixture
def run_dir(finished_run, tmp_path):
    """A private copy of the finished run, and its records' bytes before the case."""
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    return out, (out / "records.jsonl").read_bytes()


RUN = ["run", "--models", "logreg", "--datasets", "digits", "--preset", "quick", "-q",
       "--no-figures"]


@pytest.fixture(scope="module")
def photo_model(tmp_path_factory):
    """A small model for 28x28 MNIST-form images, saved as ``train`` saves it."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    model = make_model("logreg", random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "photo.skops"
    info = {"model": "logreg", "dataset": "mnist", "image_shape": [28, 28], "pixel_max": 255}
    return save_model(model, path, info)


# ------------------------------------------------------------ 1. bad run options (19 cases)
BAD_OPTIONS = [
    (["--n-jobs", "0"], r"n_jobs=0.*1 or more.*--n-jobs"),
    (["--n-jobs", "-1"], r"n_jobs=-1.*1 or more"),
    (["--threads", "0"], r"threads=0.*1 or more.*leave it out"),
    (["--threads", "-1"], r"threads=-1.*1 or more"),
    (["--seed", "-1"], r"seed=-1.*from 0 to 4294967295"),
    (["--seed", str(2**32)], r"seed=4294967296.*from 0 to"),
    (["--timeout", "-1"], r"timeout=-1.0.*above 0.*leave it out for no limit"),
    (["--timeout", "0"], r"timeout=0.0.*above 0.*leave it out for no limit"),
    (["--timeout", "nan"], r"timeout=nan.*above 0"),
    (["--timeout", "inf"], r"timeout=inf.*above 0"),
    (["--cv", "1"], r"cv=1.*at least 2 folds"),
    (["--cv", "0"], r"cv=0.*at least 2 folds"),
    (["--repeats", "0"], r"repeats=0.*1 or more"),
    (["--backend", "dask", "--timeout", "5"], r"--timeout works with the local backend only"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("extra, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_run_option_is_refused_before_any_work(run_dir, capsys, extra, message):
    out, before = run_dir
    code, _, err = run_cli(capsys, *RUN, "--output", out, *extra)
    assert_error(err, message)
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


ARGPARSE_ERRORS = [
    (["run", "--models", "no-such-model", "--datasets", "digits"], r"unknown model 'no-such-model'.*--models-from"),
    (["run-all", "--dataset", "bogus"], r"unknown dataset 'bogus'.*folder:PATH"),
    (["run-all", "--preset", "huge"], r"invalid choice: 'huge'"),
    (["run-all", "--n-jobs", "two"], r"invalid int value: 'two'"),
    (["predict", str(GOOD_IMAGE)], r"--model"),
    (["train", "--model", "logreg"], r"--output"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("argv, message", ARGPARSE_ERRORS, ids=[" ".join(a[:3]) for a, _ in ARGPARSE_ERRORS])
def test_bad_command_line_is_a_usage_error(run_dir, capsys, argv, message):
    out, before = run_dir
    code, _, err = run_cli(capsys, *argv)
    assert_error(err, message)
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


# ------------------------------------------------------------ 2. outputs that cannot be written
def _output_is_a_file(out):
    target = out / "not-a-folder.txt"
    target.write_text("mine")
    return target, r"is a file, not a folder"


def _output_below_a_file(out):
    (out / "file").write_text("mine")
    return out / "file" / "sub", r"is a file, so no folder can be made there"


def _records_is_a_folder(out):
    target = out.parent / "other"
    (target / "records.jsonl").mkdir(parents=True)
    return target, r"records.jsonl is a folder, not a file"


@pytest.mark.e2e
@pytest.mark.parametrize("make", [_output_is_a_file, _output_below_a_file, _records_is_a_folder])
def test_unusable_output_is_found_before_the_first_unit(run_dir, capsys, make):
    out, before = run_dir
    target, message = make(out)
    code, _, err = run_cli(capsys, *RUN, "--output", target)
    assert_error(err, message, r"choose another --output")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
def test_read_only_output_folder_simulated(run_dir, capsys, monkeypatch):
    """What a read-only folder does to the write probe (root ignores chmod, so the OS
    error is injected here; the real chmod case follows for non-root users)."""
    import mnistbench.errors

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    out, before = run_dir
    monkeypatch.setattr(mnistbench.errors.tempfile, "mkstemp", refuse)
    code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert_error(err, r"cannot write in .*Permission denied.*choose another --output")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders; simulated above")
def test_read_only_output_folder(run_dir, capsys):
    out, before = run_dir
    out.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, *RUN, "--output", out, "--seed", "1")
    finally:
        out.chmod(0o755)
    assert_error(err, r"cannot write in")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only files")
def test_read_only_records_file(run_dir, capsys):
    out, before = run_dir
    (out / "records.jsonl").chmod(0o444)
    code, _, err = run_cli(capsys, *RUN, "--output", out, "--seed", "1")
    assert_error(err, r"cannot be appended to.*chmod u\+w")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
def test_train_output_that_is_a_folder_fails_before_the_fit(tmp_path, capsys):
    (tmp_path / "model.skops").mkdir()
    code, _, err = run_cli(capsys, "train", "--model", "logreg", "--dataset", "digits",
                           "--output", tmp_path / "model.skops", "-q")
    assert_error(err, r"is a folder, not a file; choose another --output")
    assert code == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "model.skops"]


# ------------------------------------------------------------ 3. bad records
@pytest.mark.e2e
def test_torn_last_line_loses_only_its_own_unit(run_dir, capsys):
    out, before = run_dir
    path = out / "records.jsonl"
    lines = before.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # kill -9 mid-write
    with pytest.warns(UserWarning, match="not records"):
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0 and "Traceback" not in err
    records = RecordStore(path).load(warn=False)
    assert [json.loads(x) for x in lines[:-1]] == [r.to_dict() for r in records[: len(lines) - 1]]  # nothing lost
    assert len(records) == len(lines)  # the torn unit alone was redone, and kept whole


@pytest.mark.e2e
@pytest.mark.parametrize("junk", [b"[1, 2]\n", b'"text"\n', b"null\n", b'{"dataset": 3}\n',
                                  b"\x00\xff\n"])
def test_lines_that_are_not_records_do_not_break_run_or_report(run_dir, capsys, junk):
    out, before = run_dir
    with open(out / "records.jsonl", "ab") as fh:
        fh.write(junk)
    with pytest.warns(UserWarning, match=r"skipped 1 line\(s\) that are not records"):
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0 and "Traceback" not in err
    with pytest.warns(UserWarning, match="not records"):
        code, stdout, err = run_cli(capsys, "report", "--output", out, "--preset", "quick")
    assert code == 0 and "logreg" in stdout
    assert (out / "records.jsonl").read_bytes().startswith(before)


def test_report_without_records_names_the_command(tmp_path, capsys):
    code, _, err = run_cli(capsys, "report", "--output", tmp_path / "empty")
    assert_error(err, r"no records in .*run `python -m mnistbench run-all --output")
    assert code == 1
    assert not (tmp_path / "empty").exists()


@pytest.mark.e2e
def test_records_made_elsewhere_are_never_written_into(run_dir, capsys):
    """The shipped reference records of a clone: never resumed, never shown as the user's,
    never written into: one usage error before any work, every file untouched."""
    out, before = run_dir
    (out / RecordStore.OWNER_FILE).unlink()  # as in a fresh clone: records, no owner
    shipped = [{**json.loads(x), "accuracy": 0.123} for x in before.splitlines()]
    for r in shipped:
        r.pop("store")
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shipped))
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = run_cli(capsys, "run", *RUN[1:], "--output", out, "--no-figures")
    assert code == 2
    assert_error(err, r"holds records made elsewhere \(no owner file.*choose a fresh --output")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == files


# ------------------------------------------------------------ 4. bad data
@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """A valid-looking MNIST cache in a private folder, and no download source."""
    cache = tmp_path / "cache"
    cache.mkdir()
    path = cache / datasets.CACHE_FILE_NAME
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.int64),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.int64))
    monkeypatch.setattr(datasets, "DOWNLOADERS", {})
    monkeypatch.delenv("MNISTBENCH_DATA", raising=False)
    return cache, path.read_bytes()


@pytest.mark.parametrize("error", [MemoryError(), PermissionError(13, "Permission denied"),
                                   OSError(5, "Input/output error")])
def test_an_unreadable_cache_is_kept(offline_cache, capsys, monkeypatch, error):
    cache, before = offline_cache

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(datasets.np, "load", fail)
    code, _, err = run_cli(capsys, "fetch-data", "--dataset", "mnist", "--cache-dir", cache, "-q")
    assert code == 1
    assert "Traceback" not in err and "could not load MNIST from any source" in err
    assert "kept, it may be fine" in err and "MNISTBENCH_DATA" in err  # the fix
    assert (cache / datasets.CACHE_FILE_NAME).read_bytes() == before


def test_a_damaged_cache_is_discarded_as_documented(offline_cache, capsys):
    """The documented choice: a cache that fails verification is replaced, never used."""
    cache, _ = offline_cache
    path = cache / datasets.CACHE_FILE_NAME
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="failed verification"):
        code, _, err = run_cli(capsys, "fetch-data", "--dataset", "mnist", "--cache-dir", cache,
                               "-q")
    assert code == 1 and "Traceback" not in err
    assert "damaged or truncated" in err and "discarded" in err
    assert not path.exists()


def test_a_missing_data_file_is_named(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "DOWNLOADERS", {})
    cache = tmp_path / "cache"
    code, _, err = run_cli(capsys, "fetch-data", "--dataset", "mnist", "--cache-dir", cache,
                           "--data-file", tmp_path / "nope.npz", "-q")
    assert code == 1 and "Traceback" not in err
    assert "nope.npz: no such file" in err and "--data-file /path/to/file" in err
    assert not cache.exists()  # nothing half-written


@pytest.fixture
def digit_folder(tmp_path):
    """20 MNIST-like images of two classes, as files."""
    ds = load_dataset("digits")
    root = tmp_path / "digits"
    for label in (0, 1):
        (root / str(label)).mkdir(parents=True)
        for k, img in enumerate(ds.X_train[ds.y_train == label][:10]):
            Image.fromarray((img * 15).astype(np.uint8)).resize((28, 28)).save(
                root / str(label) / f"{k}.png")
    return root


def test_a_decompression_bomb_in_a_folder_is_skipped_with_a_warning(digit_folder, tmp_path,
                                                                    capsys):
    (digit_folder / "1" / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\).*bomb.png.*refused"):
        ds = load_dataset(f"folder:{digit_folder}", cache=tmp_path / "c")
    assert len(ds.y_train) + len(ds.y_test) == 20  # every good image kept


@pytest.mark.e2e
@pytest.mark.parametrize("make, message", [
    (lambda root: shutil.rmtree(root), r"no such folder.*one sub-folder per class"),
    (lambda root: shutil.rmtree(root / "1"), r"found 1 class folder.*need at least two"),
])
def test_unusable_folder_dataset(digit_folder, run_dir, capsys, make, message):
    out, before = run_dir
    make(digit_folder)
    code, _, err = run_cli(capsys, "run-all", "--dataset", f"folder:{digit_folder}",
                           "--preset", "quick", "--output", out, "-q")
    assert_error(err, message)
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


# ------------------------------------------------------------ 5. predict: bad files, bad models
@pytest.mark.parametrize("top", ["0", "-2"])
def test_predict_top_must_be_positive(photo_model, capsys, top):
    code, stdout, err = run_cli(capsys, "predict", GOOD_IMAGE, "--model", photo_model,
                                "--top", top)
    assert_error(err, rf"top={top}.*1 or more.*--top 3")
    assert code == 2 and stdout == ""
    assert photo_model.exists()


def _bomb(tmp):
    path = tmp / "bomb.png"
    path.write_bytes(png_claiming(100_000, 100_000))
    return path, r"bomb.png: refused.*shrink it first"


def _missing(tmp):
    return tmp / "missing.png", r"missing.png: no such file"


def _text(tmp):
    path = tmp / "notes.png"
    path.write_text("not an image")
    return path, r"notes.png: not an image this reader understands"


def _truncated(tmp):
    path = tmp / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    return path, r"cut.png: damaged or truncated"


def _blank(tmp):
    path = tmp / "blank.png"
    Image.new("L", (50, 50), 255).save(path)
    return path, r"blank.png: .*(blank|no ink)"


def _folder(tmp):
    (tmp / "dir.png").mkdir()
    return tmp / "dir.png", r"dir.png: is a directory"


@pytest.mark.parametrize("make", [_bomb, _missing, _text, _truncated, _blank, _folder])
def test_a_bad_image_gets_its_own_error_and_the_good_one_its_answer(photo_model, tmp_path,
                                                                   capsys, make):
    bad, message = make(tmp_path)
    code, stdout, err = run_cli(capsys, "predict", bad, GOOD_IMAGE, "--model", photo_model)
    assert_error(err, message)
    assert code == 1
    assert stdout.startswith(f"{GOOD_IMAGE}: ")  # the good image is still answered


def _zip_with_only_metadata(tmp, suffix):
    path = tmp / f"only-meta{suffix}"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnistbench.json", json.dumps({"dataset": "mnist", "image_shape": [28, 28],
                                                   "pixel_max": 255}))
    return path


def _lambda_keras(tmp):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("mnistbench.json", json.dumps({"dataset": "mnist", "image_shape": [28, 28],
                                                   "pixel_max": 255}))
    return path


def _digits_model(tmp):
    model = make_model("logreg", random_state=0).fit(*load_dataset("digits").train)
    return save_model(model, tmp / "digits.skops", {"model": "logreg", "dataset": "digits",
                                                   "image_shape": [8, 8], "pixel_max": 16})


BAD_MODELS = [
    (lambda tmp: tmp / "missing.skops", r"no such model file.*mnistbench train"),
    (lambda tmp: (tmp / "text.skops").write_text("hello") and tmp / "text.skops",
     r"not a model file written by mnistbench"),
    (lambda tmp: _zip_with_only_metadata(tmp, ".skops"), r"damaged or incomplete model file.*train"),
    (lambda tmp: _zip_with_only_metadata(tmp, ".keras"), r"damaged or incomplete model file.*train"),
    (_lambda_keras, r"refused, it holds Python code \(e.g. a Lambda layer\).*mnistbench train"),
    (_digits_model, r"trained on 'digits'.*--dataset mnist"),
]


@pytest.mark.parametrize("make, message", BAD_MODELS,
                         ids=["missing", "text", "meta-only-skops", "meta-only-keras", "lambda",
                              "8x8-model"])
def test_a_bad_model_file_is_one_clear_error(tmp_path, capsys, make, message):
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    code, stdout, err = run_cli(capsys, "predict", GOOD_IMAGE, "--model", path)
    assert_error(err, message)
    assert code == 1 and stdout == ""
    assert (path.read_bytes() if path.is_file() else None) == before  # never altered


@pytest.mark.e2e
@pytest.mark.parametrize("param, message", [
    ("nokey", r"expected KEY=VALUE"),
    ("no_such_param=3", r"logreg has no parameter 'no_such_param'; its parameters:"),
])
def test_train_bad_param_fails_before_the_fit(tmp_path, capsys, param, message):
    code, _, err = run_cli(capsys, "train", "--model", "logreg", "--dataset", "digits",
                           "--output", tmp_path / "m.skops", "--param", param, "-q")
    assert_error(err, message)
    assert code == 2
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ 6. bad data for the estimators
@pytest.mark.parametrize("name", ["logreg", "random-forest", "svc", "xgboost", "hog-svm"])
def test_colour_images_are_refused_and_the_fitted_model_kept(digits, name):
    model = make_model(name, random_state=0).set_params(**_fast(name)).fit(*digits.train)
    expected = model.predict(digits.X_test)
    rgb = np.repeat(digits.X_test[..., None], 3, axis=-1)
    with pytest.raises(ValueError, match=r"3 colour channels.*rgb2gray"):
        model.predict(rgb)
    with pytest.raises(ValueError, match=r"3 colour channels.*rgb2gray"):
        make_model(name).fit(np.repeat(digits.X_train[..., None], 3, axis=-1), digits.y_train)
    np.testing.assert_array_equal(model.predict(digits.X_test), expected)


def _fast(name):
    from mnistbench.estimators.models import MODELS

    return MODELS[name].fast_params


def test_huge_pixel_values_give_the_same_hog_svm(digits):
    """Documented: every zoo model takes pixels of any finite scale. HOG features are
    scale-free, so 1e20-scaled images give the same predictions (they used to overflow
    float32 and predict one class)."""
    base = make_model("hog-svm", random_state=0).fit(*digits.train).predict(digits.X_test)
    X_train, X_test = (digits.X_train * 1e20, digits.X_test * 1e20)
    huge = make_model("hog-svm", random_state=0).fit(X_train, digits.y_train).predict(X_test)
    assert (huge == base).mean() > 0.99
    assert (huge == digits.y_test).mean() > 0.95


def test_negative_pixels_are_used_as_given(digits):
    """Documented: pixels are numbers; an offset dataset trains like the original."""
    shifted = digits.X_train.astype(np.float64) - 8
    model = make_model("logreg", random_state=0).fit(shifted, digits.y_train)
    assert model.score(digits.X_test.astype(np.float64) - 8, digits.y_test) > 0.9


def test_float_labels_that_are_whole_numbers_are_classes(digits):
    """Documented: labels of any kind; 1.0, 2.0 ... are ten classes, returned as given."""
    y = digits.y_train.astype(np.float64)
    model = make_model("logreg", random_state=0).fit(digits.X_train, y)
    assert model.predict(digits.X_test[:3]).dtype == np.float64
    with pytest.raises(ValueError, match="continuous"):
        make_model("logreg").fit(digits.X_train, y + 0.5 * (y > 4) + 0.25)


# ------------------------------------------------------------ 7. interrupted runs
def _children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.e2e
def test_orphaned_workers_exit_quietly_after_kill_9_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mnistbench", "run", "--datasets", "digits", "--models",
           "logreg", "svc", "random-forest", "--preset", "quick", "--output", str(out), "-q",
           "--n-jobs", "2", "--no-figures"]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stderr=err, start_new_session=True)
        records = out / "records.jsonl"
        deadline = time.time() + 240
        while time.time() < deadline and not (records.exists() and records.read_text().strip()):
            time.sleep(0.2)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)  # the main process only: its workers are orphaned
        proc.wait()
        deadline = time.time() + 30
        while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.2)
    assert workers and not any(Path(f"/proc/{w}").exists() for w in workers)
    text = log.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
    done_before = records.read_text().splitlines()
    assert subprocess.run(cmd, timeout=600).returncode == 0
    after = records.read_text().splitlines()
    assert after[: len(done_before)] == done_before and len(after) == 9


# ------------------------------------------------------------ 8. one writer per folder
def _cli(*argv):
    return [sys.executable, "-m", "mnistbench", *map(str, argv)]


def _own_ids(out):
    """The store ids stamped on a folder's records, and the one its owner file names."""
    records = RecordStore(out / "records.jsonl").load(warn=False)
    owner = json.loads((out / RecordStore.OWNER_FILE).read_text())["store_id"]
    return records, {r["store"] for r in records}, owner


@pytest.mark.e2e
def test_two_concurrent_runs_never_compute_a_unit_twice(tmp_path):
    """Two real ``run`` processes on one fresh folder, started together: the second waits
    for the first (--wait), then finds every unit done. MNISTBENCH_CONCURRENCY_TRIES sets
    how many times (default 2; 20 for a stress run)."""
    tries = int(os.environ.get("MNISTBENCH_CONCURRENCY_TRIES", "2"))
    for i in range(tries):
        out = tmp_path / f"try{i}"
        cmd = _cli(*RUN, "--no-robustness", "--output", out, "--wait")
        procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errs = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        records, ids, owner = _own_ids(out)
        keys = [(r["dataset"], r["model"], r["split"]) for r in records]
        assert len(keys) == len(set(keys)) == 3, keys  # each unit once
        assert ids == {owner}  # nothing disowned


def _first_append(path, barrier, i):
    barrier.wait()
    RecordStore(path).append({"dataset": "d", "model": "m", "split": f"fold-{i}",
                              "params_hash": "h", "status": "failed"})


def test_two_first_appends_at_once_make_one_store_id(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for i in range(20):
        path = tmp_path / f"try{i}" / "records.jsonl"
        path.parent.mkdir()
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_first_append, args=(path, barrier, k)) for k in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert [p.exitcode for p in procs] == [0, 0]
        records, ids, owner = _own_ids(path.parent)
        assert len(records) == 2 and ids == {owner}, (ids, owner)


@pytest.mark.e2e
def test_a_held_folder_is_named_and_a_waiting_run_goes_on_after_it(run_dir, capsys):
    import threading

    out, before = run_dir
    store = RecordStore(out / "records.jsonl")
    with store.writer():
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert_error(err, rf"{re.escape(str(out))} is in use by another run \(pid {os.getpid()} on "
                      r".*, started .*\).*--wait")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before
    released = threading.Event()

    def hold():
        with store.writer():
            released.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)
    threading.Timer(1.0, released.set).start()
    loud = [a for a in RUN if a != "-q"]  # the waiting line is a status line
    code, _, err = run_cli(capsys, *loud, "--output", out, "--wait")
    holder.join()
    assert code == 0 and "waiting for the other run" in err
    assert (out / "records.jsonl").read_bytes() == before  # every unit was already done


@pytest.mark.e2e
def test_a_killed_lock_holder_leaves_no_stale_lock(run_dir, capsys):
    out, before = run_dir
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from mnistbench.harness import RecordStore\n"
        f"with RecordStore({str(out / 'records.jsonl')!r}).writer():\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0, err
    assert (out / "records.jsonl").read_bytes() == before


# ------------------------------------------------------------ 9. the owner file
@pytest.mark.e2e
@pytest.mark.parametrize("damage", [b"", b'{"store_id": "ab', b"\x00\x00", b"[]", b'{"store_id": ""}'],
                         ids=["empty", "torn", "zeros", "not-an-object", "blank-id"])
def test_a_damaged_owner_file_is_repaired_from_the_records(run_dir, capsys, damage):
    out, before = run_dir
    owner = out / RecordStore.OWNER_FILE
    store_id = json.loads(owner.read_text())["store_id"]
    owner.write_bytes(damage)
    with pytest.warns(UserWarning, match=rf"was damaged; repaired from the store id its \d+ "
                                         rf"record\(s\) carry \({store_id}\)"):
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0, err
    assert (out / "records.jsonl").read_bytes() == before  # resumed: nothing recomputed
    assert json.loads(owner.read_text())["store_id"] == store_id


@pytest.mark.e2e
def test_a_damaged_owner_file_with_two_ids_in_the_records_asks(run_dir, capsys):
    out, before = run_dir
    lines = before.splitlines(keepends=True)
    other = json.loads(lines[0])
    other["store"] = "another-store-id"
    (out / "records.jsonl").write_bytes(before + (json.dumps(other) + "\n").encode())
    after = (out / "records.jsonl").read_bytes()
    (out / RecordStore.OWNER_FILE).write_bytes(b"")
    code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert_error(err, r"is damaged and this folder's records carry several store ids: .*"
                      r"\(3 records\), another-store-id \(1 records\); write the one")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == after
    assert (out / RecordStore.OWNER_FILE).read_bytes() == b""  # left for the user to choose


def test_a_kill_while_the_owner_file_is_written_leaves_no_torn_owner(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    killer = ("import os, signal\n"
              "import mnistbench.harness.store as r\n"
              "r.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
              f"r.RecordStore({str(out / 'records.jsonl')!r}).append("
              "{'dataset': 'd', 'model': 'm', 'split': 'test', 'params_hash': 'h', "
              "'status': 'failed'})\n")
    proc = subprocess.run([sys.executable, "-c", killer])
    assert proc.returncode == -signal.SIGKILL
    assert not (out / RecordStore.OWNER_FILE).exists()  # a whole file, or none
    assert not (out / "records.jsonl").exists()
    code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0, err
    records, ids, owner = _own_ids(out)
    assert len(records) == 3 and ids == {owner}


# ------------------------------------------------------------ 10. paths checked before work
def _records_to_dev_null(out):
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").symlink_to("/dev/null")
    return r"records.jsonl is a device \(it leads to /dev/null\), not a regular file"


def _records_fifo(out):
    (out / "records.jsonl").unlink()
    os.mkfifo(out / "records.jsonl")
    return r"records.jsonl is a FIFO, not a regular file"


def _owner_is_a_folder(out):
    (out / RecordStore.OWNER_FILE).unlink()
    (out / RecordStore.OWNER_FILE).mkdir()
    return r"\.mnistbench-owner\.json is a folder, not this folder's owner file; remove it"


def _records_broken_link(out):
    (out / "records.jsonl").unlink()
    (out / "records.jsonl").symlink_to(out / "gone" / "records.jsonl")
    return r"records.jsonl is a broken symbolic link"


@pytest.mark.e2e
@pytest.mark.parametrize("make", [_records_to_dev_null, _records_fifo, _owner_is_a_folder,
                                  _records_broken_link])
def test_special_files_in_the_output_are_refused_before_work(run_dir, capsys, make):
    out, _ = run_dir
    message = make(out)
    listing = sorted(p.name for p in out.iterdir())
    signal.alarm(60)  # a FIFO must never hang the run
    try:
        code, _, err = run_cli(capsys, *RUN, "--output", out)
        report_code, _, report_err = run_cli(capsys, "report", "--output", out)
    finally:
        signal.alarm(0)
    assert_error(err, message, r"choose another --output")
    assert code == 1
    assert report_code == 1 and "Traceback" not in report_err
    assert sorted(p.name for p in out.iterdir()) == listing  # no unit computed, nothing made


# ------------------------------------------------------------ 11. records read through one schema
def _edit_last(before, edit):
    lines = before.splitlines(keepends=True)
    return b"".join(lines[:-1]) + edit(lines[-1].decode()).encode()


BAD_LINES = {
    "nan": lambda line: re.sub(r'"accuracy": [0-9.e-]+', '"accuracy": NaN', line),
    "infinity": lambda line: re.sub(r'"accuracy": [0-9.e-]+', '"accuracy": Infinity', line),
    "no-accuracy": lambda line: re.sub(r'"accuracy": [0-9.e-]+, ', "", line),
    "accuracy-text": lambda line: re.sub(r'"accuracy": [0-9.e-]+', '"accuracy": "high"', line),
    "duplicated-key": lambda line: line.rstrip().rstrip("}") + ', "accuracy": 0.123}\n',
    "nested": lambda line: "[" * 100_000 + "]" * 100_000 + "\n",
    "unknown-status": lambda line: line.replace('"status": "ok"', '"status": "great"'),
}


@pytest.mark.e2e
@pytest.mark.parametrize("kind", BAD_LINES)
def test_a_misreadable_record_is_skipped_and_its_unit_runs_again(run_dir, capsys, kind):
    out, before = run_dir
    edited = _edit_last(before, BAD_LINES[kind])
    assert edited != before
    (out / "records.jsonl").write_bytes(edited)
    n = len(before.splitlines())
    with pytest.warns(UserWarning, match=rf"skipped 1 line\(s\) that are not records \(line {n}\)"):
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0 and "Traceback" not in err
    after = (out / "records.jsonl").read_bytes()
    assert after.startswith(edited) and len(after.splitlines()) == n + 1  # that unit alone
    with pytest.warns(UserWarning, match="not records"):
        code, stdout, err = run_cli(capsys, "report", "--output", out, "--preset", "quick")
    assert code == 0 and "logreg" in stdout and "12.30" not in stdout


# ------------------------------------------------------------ 12. inputs normalised and checked
@pytest.mark.e2e
def test_the_api_takes_one_name_as_a_string(tmp_path):
    from mnistbench import run_benchmark

    df = run_benchmark("digits", "logreg", "quick", output=tmp_path, quiet=True,
                       figures=False, robustness=False)
    assert list(df["dataset"]) == ["digits"] and list(df["model"]) == ["logreg"]


@pytest.mark.e2e
@pytest.mark.parametrize("kwargs, message", [
    ({"datasets": [], "models": ["logreg"]}, r"datasets=\[\] names nothing"),
    ({"datasets": ["digits"], "models": []}, r"models=\[\] names nothing"),
    ({"datasets": ["digits"], "models": 5}, r"models=5: give a list of names"),
    ({"datasets": [["digits"]], "models": ["logreg"]}, r"\['digits'\] is not a name"),
    ({"datasets": ["folder:"], "models": ["logreg"]}, r"'folder:' names no folder.*folder:\./"),
    ({"datasets": ["digits"], "models": ["logreg"], "output": ""}, r"--output is empty"),
    ({"datasets": ["digits"], "models": ["logreg"], "output": "  "}, r"--output is empty"),
])
def test_bad_names_are_refused_by_the_api_before_any_work(tmp_path, monkeypatch, kwargs, message):
    from mnistbench import run_benchmark
    from mnistbench.errors import UsageError

    monkeypatch.chdir(tmp_path)
    kwargs = {"output": tmp_path / "out", **kwargs}
    with pytest.raises(UsageError, match=message):
        run_benchmark(preset="quick", quiet=True, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_a_name_given_twice_runs_once(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", "--models", "logreg", "logreg", "--datasets", "digits",
                           "digits", "--preset", "quick", "--no-figures", "--no-robustness",
                           "--output", tmp_path / "run")
    assert code == 0
    assert "models: logreg given more than once; each runs once" in err
    assert "datasets: digits given more than once" in err
    assert len(RecordStore(tmp_path / "run" / "records.jsonl").load()) == 3


def _no_dask(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))


MORE_BAD_OPTIONS = [
    (["--cv", "200"], r"digits: a class has only \d+ image\(s\) in the cross-validation sample, "
                      r"fewer than the 200 CV folds; pass --cv \d+ or fewer"),
    (["--repeats", "100000"], r"would plan 200,001 units, more than 20,000; lower --repeats"),
    (["--output", ""], r"--output is empty; name the folder"),
    (["--backend", "dask", "--scheduler", "tcp://"], r"--scheduler 'tcp://' is not a Dask "
                                                     r"scheduler address"),
    (["--scheduler", "not an address"], r"is not a Dask scheduler address.*tcp://"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("extra, message", MORE_BAD_OPTIONS,
                         ids=[" ".join(a) for a, _ in MORE_BAD_OPTIONS])
def test_more_bad_options_are_refused_before_any_work(run_dir, capsys, extra, message):
    out, before = run_dir
    code, _, err = run_cli(capsys, *RUN, "--output", out, *extra)
    assert_error(err, message)
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
def test_dask_backend_without_dask_is_a_usage_error(run_dir, capsys, monkeypatch):
    out, before = run_dir
    _no_dask(monkeypatch)
    code, _, err = run_cli(capsys, *RUN, "--output", out, "--backend", "dask")
    assert_error(err, r"--backend dask needs dask.distributed.*pip install 'mnistbench\[dask\]'")
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


BAD_MODEL_FILES = [
    ("missing.py", None, r"--models-from .*missing.py: no such file"),
    ("models.txt", "MODELS = {}", r"models.txt: not a .py file"),
    ("none.py", "x = 1", r"the file defines no MODELS; add MODELS = "),
    ("raises.py", "import math\nMODELS = 1 / 0", r"running it raised ZeroDivisionError \(line 2\)"),
    ("listed.py", "MODELS = []", r"MODELS is list \[\]; make it a non-empty dict"),
    ("spaced.py", "from sklearn.svm import SVC\nMODELS = {'my svc': SVC()}",
     r"model name 'my svc' \(file .*\): use letters"),
    ("clash.py", "from sklearn.svm import SVC\nMODELS = {'svc': SVC()}",
     r"'svc' \(file .*\) is a built-in model's name"),
    ("number.py", "MODELS = {'x': 42}", r"model 'x' \(file .*\) is int 42, not an estimator"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("name, text, message", BAD_MODEL_FILES,
                         ids=[n for n, _, _ in BAD_MODEL_FILES])
def test_a_bad_models_file_is_refused_before_any_work(run_dir, capsys, tmp_path, name, text,
                                                      message):
    out, before = run_dir
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    code, _, err = run_cli(capsys, *RUN, "--output", out, "--models-from", path)
    assert_error(err, message)
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


@pytest.mark.e2e
def test_empty_folder_name_on_the_command_line(capsys):
    code, _, err = run_cli(capsys, "run", "--datasets", "folder:", "--models", "logreg")
    assert_error(err, r"'folder:' names no folder")
    assert code == 2


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_cache_variable_is_unset(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNISTBENCH_CACHE", value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "mnistbench"
    assert list(tmp_path.iterdir()) == []


def test_a_cache_variable_naming_a_file_is_named(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    monkeypatch.setenv("MNISTBENCH_CACHE", str(tmp_path / "file"))
    code, _, err = run_cli(capsys, "fetch-data", "--dataset", "mnist", "-q")
    assert_error(err, r"MNISTBENCH_CACHE is .*file, a file, not a folder; point MNISTBENCH_CACHE "
                      r"at a folder.*or unset it")
    assert code == 1
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.e2e
@pytest.mark.parametrize("argv, message", [
    (["--param", "logreg=5"], r"'logreg' is a part of the logreg pipeline, not a value"),
    (["--param", "steps=3"], r"'steps' is a part of the logreg pipeline, not a value"),
    (["--epochs", "3"], r"--epochs applies to the CNNs .*; logreg is not trained in epochs"),
    (["--output", ""], r"argument --output: empty"),
])
def test_train_options_that_do_not_apply(tmp_path, capsys, argv, message):
    args = ["train", "--model", "logreg", "--dataset", "digits", "-q"]
    if "--output" not in argv:
        args += ["--output", tmp_path / "m.skops"]
    code, _, err = run_cli(capsys, *args, *argv)
    assert_error(err, message)
    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_model_file_says_it_is_cut_short(photo_model, tmp_path, capsys):
    path = tmp_path / "half.skops"
    whole = photo_model.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    code, stdout, err = run_cli(capsys, "predict", GOOD_IMAGE, "--model", path)
    assert_error(err, r"damaged or incomplete model file \(cut short.*\); copy it again")
    assert code == 1 and stdout == ""
    assert path.read_bytes() == whole[: len(whole) // 2]


@pytest.mark.filterwarnings("ignore:The fit ended unconverged")
def test_a_keras_file_whose_classes_disagree_with_its_network(tmp_path, capsys, digits):
    from mnistbench.estimators.cnn import KerasCNNClassifier

    model = KerasCNNClassifier(epochs=1, min_steps=0, random_state=0).fit(*digits.train)
    path = save_model(model, tmp_path / "cnn.keras", {"model": "cnn-baseline",
                                                      "dataset": "digits", "image_shape": [8, 8],
                                                      "pixel_max": 16})
    altered = tmp_path / "altered.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(altered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "mnistbench.json":
                meta = json.loads(data)
                meta["classes"] = meta["classes"][:5]
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    before = altered.read_bytes()
    code, _, err = run_cli(capsys, "predict", GOOD_IMAGE, "--model", altered)
    assert_error(err, r"network has 10 outputs but its metadata names 5 classes")
    assert code == 1
    assert altered.read_bytes() == before


# ------------------------------------------------------------ 13. shapes remembered
@pytest.mark.filterwarnings("ignore:The fit ended unconverged")
@pytest.mark.parametrize("name", ["cnn-baseline", "logreg", "svc", "random-forest", "xgboost",
                                  "hog-svm"])
def test_images_of_another_shape_are_refused(digits, name):
    params = {"epochs": 1, "min_steps": 0} if name.startswith("cnn") else _fast(name)
    model = make_model(name, random_state=0)
    model.set_params(**{k: v for k, v in params.items()
                        if k in model.get_params() or name.startswith("cnn")})
    model.fit(*digits.train)
    expected = model.predict(digits.X_test[:20])
    with pytest.raises(ValueError, match=r"4x16|\(4, 16\)") as info:
        model.predict(digits.X_test[:20].reshape(20, 4, 16))
    assert re.search(r"8x8|\(8, 8\)", str(info.value))
    flat = model.predict(digits.X_test[:20].reshape(20, 64))  # flat rows of the right width
    np.testing.assert_array_equal(flat, expected)


# ------------------------------------------------------------ 14. the spawn guard
@pytest.mark.e2e
def test_a_script_without_the_main_guard_gets_one_clear_error(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from mnistbench import run_benchmark\n"
        f"run_benchmark(['digits'], ['logreg'], 'quick', output={str(tmp_path / 'out')!r}, "
        "quiet=True, figures=False, robustness=False)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 1
    assert "bootstrapping" not in proc.stderr and proc.stderr.count("Traceback") == 1
    assert re.search(r"UsageError: a worker process re-ran your script .* put that call under "
                     r"`if __name__ == \"__main__\":`", proc.stderr), proc.stderr
