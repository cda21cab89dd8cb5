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
from PIL import Image

from mnistbench import datasets, load_dataset, make_model
from mnistbench.cli import main
from mnistbench.harness import RecordStore
from mnistbench.persist import save_model

DATA = Path(__file__).parent / "data"
GOOD_IMAGE = DATA / "four.jpg"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- helpers
def run_cli(capsys, *argv):
    """``main(argv)`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


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


@pytest.mark.parametrize("extra, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_run_option_is_refused_before_any_work(run_dir, capsys, extra, message):
    out, before = run_dir
    code, _, err = run_cli(capsys, *RUN, "--output", out, *extra)
    assert_error(err, message)
    assert code == 2
    assert (out / "records.jsonl").read_bytes() == before


ARGPARSE_ERRORS = [
    (["run", "--models", "no-such-model", "--datasets", "digits"], r"invalid choice: 'no-such-model'"),
    (["run-all", "--dataset", "bogus"], r"unknown dataset 'bogus'.*folder:PATH"),
    (["run-all", "--preset", "huge"], r"invalid choice: 'huge'"),
    (["run-all", "--n-jobs", "two"], r"invalid int value: 'two'"),
    (["predict", str(GOOD_IMAGE)], r"--model"),
    (["train", "--model", "logreg"], r"--output"),
]


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


@pytest.mark.parametrize("make", [_output_is_a_file, _output_below_a_file, _records_is_a_folder])
def test_unusable_output_is_found_before_the_first_unit(run_dir, capsys, make):
    out, before = run_dir
    target, message = make(out)
    code, _, err = run_cli(capsys, *RUN, "--output", target)
    assert_error(err, message, r"choose another --output")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


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


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only files")
def test_read_only_records_file(run_dir, capsys):
    out, before = run_dir
    (out / "records.jsonl").chmod(0o444)
    code, _, err = run_cli(capsys, *RUN, "--output", out, "--seed", "1")
    assert_error(err, r"cannot be appended to.*chmod u\+w")
    assert code == 1
    assert (out / "records.jsonl").read_bytes() == before


def test_train_output_that_is_a_folder_fails_before_the_fit(tmp_path, capsys):
    (tmp_path / "model.skops").mkdir()
    code, _, err = run_cli(capsys, "train", "--model", "logreg", "--dataset", "digits",
                           "--output", tmp_path / "model.skops", "-q")
    assert_error(err, r"is a folder, not a file; choose another --output")
    assert code == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "model.skops"]


# ------------------------------------------------------------ 3. bad records
def test_torn_last_line_loses_only_its_own_unit(run_dir, capsys):
    out, before = run_dir
    path = out / "records.jsonl"
    lines = before.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # kill -9 mid-write
    with pytest.warns(UserWarning, match="not records"):
        code, _, err = run_cli(capsys, *RUN, "--output", out)
    assert code == 0 and "Traceback" not in err
    records = RecordStore(path).load(warn=False)
    assert [json.loads(x) for x in lines[:-1]] == records[: len(lines) - 1]  # nothing lost
    assert len(records) == len(lines)  # the torn unit alone was redone, and kept whole


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


def test_records_made_elsewhere_are_recomputed_and_kept(run_dir, capsys):
    """The shipped reference records of a clone: never resumed, never shown as the user's."""
    out, before = run_dir
    (out / RecordStore.OWNER_FILE).unlink()  # as in a fresh clone: records, no owner
    shipped = [{**json.loads(x), "accuracy": 0.123} for x in before.splitlines()]
    for r in shipped:
        r.pop("store")
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shipped))
    code, _, err = run_cli(capsys, "run", *RUN[1:], "--output", out, "--no-figures")
    assert code == 0
    records = RecordStore(out / "records.jsonl").load()
    assert records[: len(shipped)] == shipped  # kept
    assert len(records) == 2 * len(shipped)  # and every unit computed again
    table = (out / "results_digits.md").read_text()
    assert "12.30" not in table  # the shipped accuracy is not presented as the user's


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
    from mnistbench.models import MODELS

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
