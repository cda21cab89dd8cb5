"""Train a final model on a whole training split, save it, and predict image files.

The tutorial's last steps, for every model in the zoo: ``train`` fits on all of a
dataset's training images, scores the held-out test split and saves the model
with its metadata (:mod:`mnistbench.estimators.persist`); ``predict`` prepares image files
as MNIST digits (:mod:`mnistbench.data.imaging`) and reports the digit(s) with the
top-3 classes per digit.
"""

from __future__ import annotations

import json
import numbers
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mnistbench.data.datasets import load_dataset
from mnistbench.data.imaging import prepare_image
from mnistbench.errors import UsageError, check_writable_file
from mnistbench.estimators.models import MODELS, is_deep, make_model
from mnistbench.estimators.persist import (
    ModelFileError,
    load_model,
    model_path,
    save_model,
    suffix_for,
)
from mnistbench.log import logger, progress_logging

__all__ = ["DigitPrediction", "ImagePrediction", "parse_param", "predict_files", "train_final"]


def parse_param(text):
    """``"KEY=VALUE"`` -> ``(key, value)``; the value is read as JSON when it is JSON."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param {text!r}: expected KEY=VALUE, for example epochs=3 or svc__C=5")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def train_final(model_name, dataset="mnist", output=None, *, params=None, seed=0, device="auto",
                data_options=None, say=None, verbose=True):
    """Fit ``model_name`` on the whole training split of ``dataset``, score the test split,
    save to ``output``. Returns ``(path, metadata)``. Progress goes to ``say`` (default:
    the "mnistbench" logger, shown on stderr unless ``verbose=False`` or the program
    configured logging itself)."""
    with progress_logging(quiet=not verbose):
        return _train_final(model_name, dataset, output, params, seed, device, data_options,
                            say or logger.info, verbose)


def _train_final(model_name, dataset, output, params, seed, device, data_options, say, verbose):
    if model_name not in MODELS:
        raise UsageError(f"unknown model {model_name!r}; choose one of {', '.join(MODELS)}")
    model = make_model(model_name, random_state=seed, device=device)
    if params:
        valid = model.get_params()
        # Settable from a KEY=VALUE string: plain values, not the steps of a pipeline
        # (``logreg``, ``steps``), which a number or a word cannot replace.
        names = sorted(k for k, v in valid.items() if k != "steps" and (
            "__" in k or not hasattr(v, "get_params")))
        bad = [k for k in params if k not in names]
        steps = [k for k in bad if k in valid]
        if steps:
            raise UsageError(
                f"--param {steps[0]}=...: {steps[0]!r} is a part of the {model_name} pipeline, "
                f"not a value; set the parameters of its parts instead: {', '.join(names)}")
        if bad:
            raise UsageError(
                f"{model_name} has no parameter {', '.join(map(repr, bad))}; its parameters: "
                f"{', '.join(names)}"
            )
        model.set_params(**params)
    path = model_path(model, output, model_name)
    check_writable_file(path)  # before a long fit, not after it
    if verbose and is_deep(model_name) and model.get_params().get("verbose") == 0:
        model.set_params(verbose=2)  # one line per epoch: progress on long work

    ds = load_dataset(dataset, **(data_options or {}))
    n = len(ds.y_train)
    say(f"training {model_name} on all {n:,} {ds.name} training images "
        f"({ds.image_shape[0]}x{ds.image_shape[1]})...")
    t0 = time.perf_counter()
    model.fit(ds.X_train, ds.y_train)
    fit_seconds = time.perf_counter() - t0
    accuracy = float(model.score(ds.X_test, ds.y_test))
    say(f"fitted in {fit_seconds:.1f} s; held-out test accuracy {100 * accuracy:.2f} % "
        f"on {len(ds.y_test):,} images")
    info = {
        "model": model_name,
        "dataset": ds.name,
        "image_shape": list(ds.image_shape),
        "pixel_max": int(ds.pixel_max),
        "test_accuracy": accuracy,
        "n_train": n,
        "n_test": int(len(ds.y_test)),
        "fit_seconds": round(fit_seconds, 2),
        "seed": seed,
        "overrides": dict(params or {}),  # set_params on top of the registry defaults
        "device": getattr(model, "device_", "cpu"),
    }
    try:
        written = save_model(model, path, info)
    except Exception as exc:  # noqa: BLE001 - never lose a long fit to a full disk or a bad path

        rescue = Path(tempfile.mkdtemp(prefix="mnistbench-")) / ("model" + suffix_for(model))
        written = save_model(model, rescue, info)
        say(f"could not write {path} ({exc}); the model was saved to {written} instead")
    say(f"saved to {written}")
    return written, info


# --------------------------------------------------------------------------- predict
#: A CNN's answer whose top probability is below this is marked "low confidence": the
#: image may not be a digit like those the model learned (noise, a blank-ish sheet...).
#: Measured (docs/decisions/confidence_threshold.md, results/experiments/confidence_threshold.json) on the
#: default cnn-deep: the largest threshold that flags at most 1 % of MNIST's test digits.
LOW_CONFIDENCE = 0.7


@dataclass
class DigitPrediction:
    label: str
    top: list  # [(label, value), ...] best first
    kind: str  # "probability" or "score"
    #: True when the top probability is below LOW_CONFIDENCE; None where no threshold
    #: was measured (models other than the CNN, decision scores)
    low_confidence: bool | None = None


@dataclass
class ImagePrediction:
    image: str
    text: str = ""
    digits: list = field(default_factory=list)
    error: str | None = None


def _check_model_fits_photos(meta, path):
    shape = tuple(meta.get("image_shape", ()))
    pmax = meta.get("pixel_max")
    if shape != (28, 28) or pmax != 255:
        raise ModelFileError(
            f"{path}: this model was trained on {meta.get('dataset')!r} "
            f"({'x'.join(map(str, shape))} images, pixels 0-{pmax}); images are prepared as "
            "28x28 MNIST digits (0-255), so use a model trained on MNIST-form data, e.g. "
            "`python -m mnistbench train --model cnn-deep --dataset mnist --output cnn.keras`"
        )


def _scores(model, X):
    """Per-class probabilities when the model has them, else decision scores."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X)), "probability"
    scores = np.asarray(model.decision_function(X))
    return scores.reshape(len(X), -1), "score"


def predict_files(paths, model_path, *, trust=False, multiple=True, top=3):
    """Prepare and predict each image file; one :class:`ImagePrediction` per path.

    A file that cannot be read or holds no digit gets its ``error`` set; the
    others are still predicted. Model problems raise :class:`ModelFileError`.
    """

    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise UsageError(f"top={top!r}: the number of classes shown per digit must be 1 or more "
                         "(--top 3 shows the three most likely)")
    model, meta = load_model(model_path, trust=trust)
    _check_model_fits_photos(meta, model_path)
    calibrated = meta.get("estimator") == "KerasCNNClassifier"  # where the threshold was measured
    classes = np.asarray(model.classes_)
    results = []
    prepared = []
    for p in paths:
        try:
            prepared.append(prepare_image(p, multiple=multiple))
            results.append(ImagePrediction(str(p)))
        except (ValueError, OSError) as exc:
            msg = str(exc)
            results.append(ImagePrediction(str(p), error=msg if str(p) in msg else f"{p}: {msg}"))
    ok = [r for r in results if r.error is None]
    if ok:
        X = np.concatenate([pi.digits for pi in prepared])
        scores, kind = _scores(model, X)
        i = 0
        for r, pi in zip(ok, prepared, strict=True):
            for row in scores[i:i + len(pi.digits)]:
                order = np.argsort(-row, kind="stable")[:top]
                low = bool(row[order[0]] < LOW_CONFIDENCE) if calibrated and kind == "probability" \
                    else None
                r.digits.append(DigitPrediction(
                    str(classes[order[0]]), [(str(classes[j]), float(row[j])) for j in order], kind,
                    low))
            i += len(pi.digits)
            r.text = "".join(d.label for d in r.digits)
    return results, meta


def format_predictions(results, as_json=False):
    """Text (one line per image, one per digit) or a JSON document."""
    if as_json:
        return json.dumps([asdict(r) for r in results], indent=1)
    lines = []
    for r in results:
        if r.error:
            continue
        unsure = any(d.low_confidence for d in r.digits)
        lines.append(f"{r.image}: {r.text}" + ("  (low confidence)" if unsure else ""))
        for k, d in enumerate(r.digits, 1):
            name = "p" if d.kind == "probability" else "score"
            best = "  ".join(f"{lab} ({name} {v:.3f})" for lab, v in d.top)
            flag = (f"  <- low confidence (p < {LOW_CONFIDENCE}): may not be a digit like "
                    "those the model learned") if d.low_confidence else ""
            lines.append(f"  digit {k}: {best}{flag}")
    return "\n".join(lines)


def report_errors(results, stream=None):
    for r in results:
        if r.error:
            print(f"error: {r.error}", file=stream or sys.stderr)
