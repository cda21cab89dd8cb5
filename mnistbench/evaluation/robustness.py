"""Robustness: each final fit also scored on MNIST-C-style corrupted copies of the test split.

Clean test accuracy spans a few points across the zoo; under shifts, rotations, noise and
scrawls the models differ far more. When a preset sets ``robustness`` (how many test images
per corruption), every final fit is scored on the same stratified subset of the test split
under each of :mod:`mnistbench.data.corruptions`' 15 corruptions, and on that subset clean.

The corrupted sets are generated once per (dataset, size, seed), before any unit runs, and
cached in ``<cache>/corrupted/`` with a SHA-256 per array; a worker loads and verifies them,
and a cache file that does not match its checksums is generated again. A corruption that
is not applicable at the dataset's image size (8x8 digits) is recorded as ``None`` and shown
as "n/a", never as a number.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mnistbench.data.corruptions import CORRUPTIONS, applicable, corrupt
from mnistbench.data.datasets import cache_dir

__all__ = ["corrupted_sets", "robustness_table", "score_corrupted"]

#: Bump when a corruption changes: older cache files are then never read.
CACHE_VERSION = 1
_MEMO: dict = {}


def _digest(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _cache_path(name, ds, n, seed, cache=None) -> Path:
    key = json.dumps([name, ds.extra.get("fingerprint"), int(n), int(seed), CACHE_VERSION])
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = "".join(ch if ch.isalnum() else "-" for ch in name)[:40]
    return cache_dir(cache) / "corrupted" / f"{safe}-n{n}-seed{seed}-{tag}.npz"


def _subset(y, n, seed):
    """Indices of a stratified subset of ``n`` test images (all of them when n >= len)."""
    if n >= len(y):
        return np.arange(len(y))
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def _generate(ds, idx, seed):
    X = ds.X_test[idx]
    arrays = {"indices": idx}
    for name in CORRUPTIONS:
        if applicable(name, X.shape)[0]:
            arrays[name] = corrupt(X, name, seed=seed, pixel_max=ds.pixel_max)
    return arrays


def _load_verified(path: Path):
    """The cached arrays when they match their checksums; None (with one warning) for a
    damaged cache file (truncated, empty, edited), which is then made again."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        if set(arrays) == set(meta) and all(_digest(a) == meta[k] for k, a in arrays.items()):
            return arrays
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        pass
    warnings.warn(f"{path}: a damaged cache file (it does not match its checksums); made "
                  "again", stacklevel=3)
    return None


def corrupted_sets(name, ds, n, seed=0, cache=None, log=None) -> dict:
    """``{"indices": test indices, corruption: images (or absent when not applicable)}``
    for dataset ``name`` (its :class:`~mnistbench.data.datasets.Dataset` ``ds``): loaded from the
    cache when its checksums match, else generated and cached (atomically)."""
    path = _cache_path(name, ds, n, seed, cache)
    if path in _MEMO:
        return _MEMO[path]
    arrays = _load_verified(path) if path.exists() else None
    if arrays is None:
        t0 = time.perf_counter()
        arrays = _generate(ds, _subset(ds.y_test, n, seed), seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        meta = path.with_name(path.stem + f".{os.getpid()}.tmp.json")
        meta.write_text(json.dumps({k: _digest(a) for k, a in arrays.items()}))
        os.replace(meta, path.with_suffix(".json"))
        os.replace(tmp, path)
        if log:
            log(f"robustness: {len(arrays) - 1} corrupted copies of {len(arrays['indices']):,} "
                f"{name} test images generated in {time.perf_counter() - t0:.1f} s; cached in "
                f"{path}")
    _MEMO.clear()  # one dataset's sets in memory at a time
    _MEMO[path] = arrays
    return arrays


def score_corrupted(estimator, sets, X_test, y_test) -> dict:
    """The record's ``robustness``: accuracy clean and per corruption on the subset."""
    idx = sets["indices"]
    y = np.asarray(y_test)[idx]
    t0 = time.perf_counter()
    clean = float(np.mean(estimator.predict(X_test[idx]) == y))
    accuracy = {name: (float(np.mean(estimator.predict(sets[name]) == y)) if name in sets
                       else None) for name in CORRUPTIONS}
    return {"n": int(len(idx)), "clean": clean, "accuracy": accuracy,
            "seconds": round(time.perf_counter() - t0, 2)}


def robustness_table(records, dataset) -> pd.DataFrame:
    """Models x corruptions (accuracy %), with clean, mean drop and relative mCE."""
    rows = []
    for r in records:
        rob = r.robustness
        if r.dataset != dataset or not r.split.is_test or not rob or "accuracy" not in rob:
            continue
        scored = [a for a in rob["accuracy"].values() if a is not None]
        mean = float(np.mean(scored)) if scored else np.nan
        clean_err = 1 - rob["clean"]
        rows.append({
            "model": r.model, "clean": 100 * rob["clean"],
            **{name: (100 * a if a is not None else np.nan) for name, a in
               rob["accuracy"].items()},
            "mean": 100 * mean,
            "mean_drop_points": 100 * (rob["clean"] - mean),
            "relative_mce": (1 - mean) / clean_err if clean_err > 0 else np.nan,
            "n_images": rob["n"],
        })
    df = pd.DataFrame(rows)
    return df.sort_values("mean", ascending=False).reset_index(drop=True) if len(df) else df
