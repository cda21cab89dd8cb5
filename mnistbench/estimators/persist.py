"""Trained models on disk: save with metadata, load without running untrusted code.

Two formats, both zip files with a ``mnistbench.json`` member (model name,
dataset, classes, image shape, pixel range, test accuracy, versions):

* the CNN: Keras's native ``.keras`` (loaded with Keras's ``safe_mode``: no
  stored Python code is executed);
* every other model: skops's ``.skops`` (``skops.io``), a pickle-free format
  that rebuilds only types on an allow-list. Ours: scikit-learn, NumPy and
  SciPy (skops's defaults), mnistbench's own transformers and XGBoost wrapper,
  scikit-learn's tree structure and XGBoost's booster. A file that needs any
  other type is refused unless the caller opts in with ``trust=True``
  (``--trust`` on the command line) after reading the listed types.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from mnistbench.errors import MnistbenchError
from mnistbench.estimators.models import is_deep
from mnistbench.hostinfo import library_versions

__all__ = ["ModelFileError", "SUFFIXES", "load_model", "model_path", "read_metadata", "save_model",
           "suffix_for"]

METADATA_MEMBER = "mnistbench.json"
SUFFIXES = (".keras", ".skops")
#: Types beyond skops's defaults that a mnistbench model file may contain. None
#: of them runs code on load: they are rebuilt from stored attributes (the
#: booster from its serialised bytes).
TRUSTED_TYPES = frozenset({
    "mnistbench.estimators.features.DeskewTransformer",
    "mnistbench.estimators.features.HOGTransformer",
    "mnistbench.estimators.features.ImageFlattener",
    "mnistbench.estimators.classic.BatchedSVC",
    "mnistbench.estimators.classic.CappedPCA",
    "mnistbench.estimators.classic.XGBoostClassifier",
    # the same types under the module paths of files saved by earlier versions
    "mnistbench.estimators.registry.BatchedSVC",
    "mnistbench.estimators.registry.CappedPCA",
    "mnistbench.estimators.registry.XGBoostClassifier",
    "mnistbench.features.DeskewTransformer",
    "mnistbench.features.HOGTransformer",
    "mnistbench.features.ImageFlattener",
    "mnistbench.models.BatchedSVC",
    "mnistbench.models.CappedPCA",
    "mnistbench.models.XGBoostClassifier",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
})


#: Module paths that files saved by earlier versions name, and where those modules are
#: now: loading a file makes the old names resolve to the new modules while it loads.
OLD_MODULES = {
    "mnistbench.features": "mnistbench.estimators.features",
    "mnistbench.models": "mnistbench.estimators.classic",
    "mnistbench.estimators.registry": "mnistbench.estimators.classic",
}


@contextlib.contextmanager
def _old_module_paths():
    """The old module paths of :data:`OLD_MODULES` as aliases of the new modules, for the
    duration of one load (nothing else imports them)."""
    added = [old for old in OLD_MODULES if old not in sys.modules]
    for old in added:
        sys.modules[old] = importlib.import_module(OLD_MODULES[old])
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


class ModelFileError(MnistbenchError, ValueError):
    """A model file is missing, of an unknown kind, or refused as unsafe."""


def suffix_for(model) -> str:
    """``.keras`` for the CNN, ``.skops`` for everything else."""
    return ".keras" if is_deep(model) else ".skops"


def _versions():
    """The run records' library versions (hostinfo.library_versions), plus skops."""

    return {**library_versions(), "skops": metadata.version("skops")}


def model_path(model, path, name=None) -> Path:
    """``path`` with the suffix ``model`` is saved under (added when missing);
    a different suffix is an error naming the right one."""
    path = Path(path)
    want = suffix_for(model)
    if path.suffix == "":
        return path.with_suffix(want)
    if path.suffix != want:
        kind = "Keras native format" if want == ".keras" else "skops, a safe non-pickle format"
        raise ModelFileError(f"{path}: {name or 'a ' + type(model).__name__} is saved as {want} "
                             f"({kind}); use --output {path.with_suffix(want)}")
    return path


def save_model(model, path, info: dict) -> Path:
    """Write a fitted model and its metadata; returns the path written.

    ``path`` without a suffix gets the right one; a wrong suffix is an error
    naming the right one.
    """
    path = model_path(model, path)
    want = path.suffix
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": 1,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "estimator": type(model).__name__,
        **info,
        "classes": np.asarray(model.classes_).tolist(),
        "versions": _versions(),
    }
    tmp = path.with_name(path.name + ".partial" + want)  # never leave a half-written model
    try:
        if want == ".keras":
            model.save(tmp, metadata=meta)  # merged into its own mnistbench.json
        else:
            import skops.io as sio  # noqa: PLC0415 - loaded lazily, only when used

            sio.dump(model, tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(METADATA_MEMBER, json.dumps(meta, indent=1, default=str))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_metadata(path) -> dict:
    """The ``mnistbench.json`` metadata of a model file."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file; make one with `python -m mnistbench train`")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; give the model file itself (the .keras or "
                             "the .skops file `python -m mnistbench train` wrote)")
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(METADATA_MEMBER))
            members = set(zf.namelist())
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        with open(path, "rb") as fh:
            zipped = fh.read(4) == b"PK\x03\x04"
        if zipped and isinstance(exc, zipfile.BadZipFile):  # a zip's start, no readable end
            raise ModelFileError(
                f"{path}: damaged or incomplete model file (cut short while it was copied or "
                "written?); copy it again, or write it again with `python -m mnistbench "
                "train`") from None
        raise ModelFileError(
            f"{path}: not a model file written by mnistbench (`python -m mnistbench train` "
            "writes .keras or .skops files with a mnistbench.json entry)"
        ) from None
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: model files end in .keras or .skops")
    kind = ".keras" if "config.json" in members else ".skops" if "schema.json" in members else None
    if kind is not None and kind != path.suffix:
        raise ModelFileError(f"{path}: a {kind} model file renamed to {path.suffix}; rename it "
                             f"back to {path.with_suffix(kind)}")
    if "dataset" not in meta:
        raise ModelFileError(
            f"{path}: saved by KerasCNNClassifier.save, without training metadata "
            "(dataset, image shape); save models with `python -m mnistbench train`"
        )
    return meta


def load_model(path, trust=False):
    """Load a model written by :func:`save_model`; returns ``(model, metadata)``.

    Parameters
    ----------
    trust : bool, default=False
        Also rebuild types outside the allow-list. Only for files you made or
        whose origin you trust: such types may run code while loading.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        if path.suffix == ".keras":
            from mnistbench.estimators.cnn import KerasCNNClassifier  # noqa: PLC0415 - loaded lazily, only when used

            return KerasCNNClassifier.load(path), meta
        import skops.io as sio  # noqa: PLC0415 - loaded lazily, only when used

        untrusted = sio.get_untrusted_types(file=path)
        unknown = sorted(set(untrusted) - TRUSTED_TYPES)
        if unknown and not trust:
            raise ModelFileError(
                f"{path}: refusing to load types that are not on mnistbench's allow-list: "
                f"{', '.join(unknown)}. If you made this file or trust its origin, pass --trust "
                "(load_model(..., trust=True))"
            )
        with _old_module_paths():
            return sio.load(path, trusted=list(untrusted)), meta
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the loader says, it is this file
        raise _load_error(path, exc) from None


def _load_error(path, exc) -> ModelFileError:
    """One clear message for a model file its loader refused or could not read."""
    text = str(exc)
    if "safe_mode" in text or "Lambda" in text:
        return ModelFileError(
            f"{path}: refused, it holds Python code (e.g. a Lambda layer) that Keras's safe mode "
            "will not run. mnistbench's own model files never contain code: use a file written "
            "by `python -m mnistbench train`")
    return ModelFileError(
        f"{path}: damaged or incomplete model file ({type(exc).__name__}: {text[:200]}); "
        "write it again with `python -m mnistbench train`")
