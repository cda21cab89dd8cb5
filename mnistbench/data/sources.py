"""Where data comes from: the cache folder, and the source order of a dataset with
canonical arrays (MNIST, Fashion-MNIST): an explicit file, the cache, each download, then
files a system package installed; the first source whose arrays pass verification wins and
is cached. :mod:`mnistbench.data.datasets` names the sources of each dataset; this module only
walks them."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnistbench.data.mnist_files import _arrays_from_npz, _atomic_save_npz
from mnistbench.errors import DataUnavailableError, DataVerificationError, UsageError
from mnistbench.log import log_progress

__all__ = ["CanonicalSources", "cache_dir", "env_value", "load_canonical"]


def cache_dir(path=None) -> Path:
    """Directory where downloaded data is cached.

    ``path`` if given, else ``$MNISTBENCH_CACHE``, else ``$XDG_CACHE_HOME/mnistbench``,
    else ``~/.cache/mnistbench``.
    """
    if path is not None and str(path).strip():
        return _cache_folder(Path(path).expanduser(), "--cache-dir")
    env = env_value("MNISTBENCH_CACHE")
    if env:
        return _cache_folder(Path(env).expanduser(), "MNISTBENCH_CACHE")
    base = env_value("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mnistbench"


def env_value(name):
    """An environment variable's value, or None when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def _cache_folder(path: Path, source: str) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{source} is {path}, a file, not a folder; point {source} at a folder "
                         "for the cache (it is made if missing)"
                         + (" or unset it" if source.isupper() else ""))
    return path



@dataclass(frozen=True)
class CanonicalSources:
    """What :func:`load_canonical` needs to know of a dataset with canonical arrays."""

    label: str  # "MNIST"
    read_file: Callable[[str], dict]  # an explicit file's arrays
    verify: Callable[[dict], dict]  # the checked arrays, or DataVerificationError
    make: Callable[[dict, str], object]  # (arrays, source) -> Dataset
    by_hand: str  # how to supply the data by hand, ending the "could not load" error


def load_canonical(spec: CanonicalSources, downloaders: dict, local_sources: dict, data_file,
                   cache_path: Path, download, force, verbose):
    """The dataset from the first source that gives verified arrays: ``data_file``, the
    cache at ``cache_path``, each of ``downloaders`` (unless ``download=False``), then each
    of ``local_sources`` (files a system package installed; no network). Whatever is
    verified is cached; when every source fails, one error names each attempt."""
    attempts = []

    def done(arrays, source, save):
        if save:
            try:
                _atomic_save_npz(cache_path, arrays)
                log_progress(f"cached verified {spec.label} at {cache_path}", verbose)
            except OSError as exc:  # a read-only cache must not lose the data
                warnings.warn(f"could not write {spec.label} cache {cache_path}: {exc}",
                              stacklevel=4)
        return spec.make(arrays, source)

    if data_file:
        try:
            arrays = spec.verify(spec.read_file(data_file))
            log_progress(f"{spec.label} loaded from {data_file}", verbose)
            return done(arrays, f"file:{data_file}", save=not cache_path.exists())
        except Exception as exc:  # noqa: BLE001 - reported below
            attempts.append(f"explicit file {data_file}: {exc}")
            warnings.warn(f"{spec.label} data file {data_file} unusable: {exc}", stacklevel=3)

    if cache_path.exists() and not force:
        arrays = _read_cache(spec, cache_path, attempts, verbose)
        if arrays is not None:
            return done(arrays, f"cache:{cache_path}", save=False)
    elif not force:
        attempts.append(f"cache {cache_path}: not present")

    sources = {**(downloaders if download else {}), **local_sources}
    if not download:
        attempts.append("downloads: disabled (download=False)")
    for name, fetch in sources.items():
        log_progress(f"trying {name}...", verbose)
        with tempfile.TemporaryDirectory(prefix="mnistbench-") as tmp:
            try:
                arrays = spec.verify(fetch(Path(tmp), verbose))
            except Exception as exc:  # noqa: BLE001 - any failure of one source: try the next
                attempts.append(f"{name}: {exc}")
                log_progress(f"  {name} failed: {exc}", verbose)
                continue
        return done(arrays, name, save=True)
    raise DataUnavailableError(
        f"could not load {spec.label} from any source. Tried:\n  - " + "\n  - ".join(attempts)
        + "\n" + spec.by_hand
    )


def _read_cache(spec: CanonicalSources, cache_path: Path, attempts: list,
                verbose) -> dict | None:
    """The verified arrays of the cache, or None (the reason appended to ``attempts``).
    Only a failed verification discards the file; no memory, no permission... keep it."""
    try:
        return spec.verify(_arrays_from_npz(cache_path))
    except DataVerificationError as exc:
        attempts.append(f"cache {cache_path}: {exc} (discarded)")
        warnings.warn(f"{spec.label} cache {cache_path} failed verification ({exc}); "
                      "discarding it and fetching again", stacklevel=4)
        cache_path.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - the file may be fine: it is kept
        attempts.append(f"cache {cache_path}: could not be read ({type(exc).__name__}: "
                        f"{exc}); kept, it may be fine")
        log_progress(f"{spec.label} cache {cache_path} could not be read "
                     f"({type(exc).__name__}: {exc}); the file is kept", verbose)
    return None
