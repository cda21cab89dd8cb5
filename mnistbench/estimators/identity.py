"""What a user's model is, for the keys of its units: its parameters and the code it runs.

A unit runs again exactly when something that changes its result changed. For a user's
model that is

- its **parameters** (:func:`render`): the class's qualified name and ``get_params``,
  nested estimators (pipeline steps, meta-estimators' bases) rendered the same way,
  arrays by content, never a memory address;
- its **code** (:func:`code_identity`): every class and function the model is made of
  (the estimator's classes and their bases, nested estimators', callables among the
  parameters, a factory) counted where it comes from:

  * an installed distribution (scikit-learn, xgboost, mnistbench, a plugin): its
    ``name==version``; an edit inside an installed package is not seen until its
    version changes;
  * Python's standard library: the Python version;
  * any other file (the script you run, a ``--models-from`` file, which always counts for
    its models, a module beside them):
    the SHA-256 of the **whole file**, and of every other such file that it imports or
    takes a name from, followed from module to module. Editing any line of those files,
    a comment included, runs that model's units again; recomputing too much is better
    than reusing a stale result.
  * code with no file (built by ``exec``): a digest of its compiled code, said once.

Classes of the script you run are keyed by its path, so the ``__main__`` of the parent
and the ``__mp_main__`` of a spawned worker agree.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import marshal
import re
import sys
import types
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["changed_code", "code_identity", "render"]

#: Parameters that change how fast a model runs, not what it computes: left out of its
#: identity, as the harness's own hash leaves out how many jobs run a unit.
SPEED_PARAMS = {"n_jobs", "verbose", "cache_size"}
_MAIN = ("__main__", "__mp_main__")
#: Files followed from one model's code at most (a guard against huge local trees).
MAX_FILES = 500
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def qualname(obj) -> str:
    kind = obj if isinstance(obj, type) or callable(obj) and not hasattr(obj, "fit") else type(obj)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', repr(kind))}"


def render(value):
    """A JSON-able, deterministic rendering of a parameter value: estimators as their
    class and parameters (recursively), arrays by content, functions and classes by
    qualified name, anything else by ``repr`` without memory addresses."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return {"class": qualname(value),
                "params": {k: render(v) for k, v in sorted(params.items())
                           if k not in SPEED_PARAMS}}
    if isinstance(value, np.random.RandomState):
        state = value.get_state()
        return {"RandomState": hashlib.sha256(state[1].tobytes()).hexdigest()[:16],
                "pos": int(state[2])}
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {"array": hashlib.sha256(data.tobytes()).hexdigest()[:16],
                "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, Mapping):
        return {str(k): render(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, (float, np.floating, np.integer)):
        return repr(value.item() if hasattr(value, "item") else value)
    if isinstance(value, type) or inspect.isroutine(value):
        return {"callable": qualname(value)}
    return _ADDRESS.sub("", repr(value))


# --------------------------------------------------------------------------- code
def code_identity(*objects, files=()) -> dict:
    """``{where: version or digest}`` of the code ``objects`` (estimators, factories,
    classes, functions) run, and of ``files`` (a models file that defines them): see the
    module's docstring for what counts."""
    out = {}
    files = [Path(f).resolve() for f in files]
    for obj in _code_objects(objects):
        where, what = _origin(obj)
        if where == "file":
            files.append(what)
        else:
            out[where] = what
    for path in _followed(files):
        out[f"file {path}"] = _file_digest(path)
    return dict(sorted(out.items()))


def changed_code(code: dict) -> list[str]:
    """The files and distributions of a :func:`code_identity` that no longer match it
    (checked again where a unit runs, so no result is recorded under code it did not run)."""
    changed = []
    for where, what in code.items():
        if where.startswith("file "):
            path = Path(where[len("file "):])
            now = _file_digest(path) if path.is_file() else "missing"
        elif where.startswith("dist "):
            now = _version(where[len("dist "):])
        else:
            continue
        if now != what:
            changed.append(where.split(" ", 1)[1])
    return changed


def _code_objects(objects):
    """The classes and functions of ``objects``: estimators' classes (with their bases),
    nested estimators and callables among the parameters, recursively."""
    seen, stack, found = set(), list(objects), []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        if isinstance(obj, type):
            found += [c for c in obj.__mro__ if c is not object]
        elif isinstance(obj, functools.partial):
            stack += [obj.func, *obj.args, *obj.keywords.values()]
        elif inspect.isroutine(obj):
            found.append(obj)
        elif hasattr(obj, "get_params"):
            found += [c for c in type(obj).__mro__ if c is not object]
            try:
                stack += list(obj.get_params(deep=False).values())
            except Exception:  # noqa: BLE001 - a model that cannot say: its class counts
                continue
        elif isinstance(obj, (list, tuple)):
            stack += list(obj)
        elif isinstance(obj, Mapping):
            stack += list(obj.values())
    return found


def _versioned(module: str):
    """``("dist NAME", version)`` for a module of an installed distribution,
    ``("python", version)`` for the standard library; None for any other module (the
    script run, a models file, a module beside them), which counts by its file."""
    if module in _MAIN:
        return None
    top = module.split(".")[0]
    dists = _distributions().get(top)
    if dists:
        name = sorted(dists)[0]
        return f"dist {name}", _version(name)
    if top in sys.stdlib_module_names or top == "builtins":
        return "python", ".".join(map(str, sys.version_info[:3]))
    return None


def _origin(obj):
    """``("dist NAME", version)``, ``("python", version)``, ``("file", Path)`` or
    ``("code QUALNAME", digest)`` for one class or function."""
    module = getattr(obj, "__module__", None) or "builtins"
    versioned = _versioned(module)
    if versioned is not None:
        return versioned
    path = _module_file(sys.modules.get(module))
    if path is not None:
        return "file", path
    return f"code {qualname(obj)}", _code_digest(obj)


def _module_file(module) -> Path | None:
    file = getattr(module, "__file__", None) if module is not None else None
    if not file or not str(file).endswith(".py"):
        return None
    path = Path(file).resolve()
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _distributions() -> dict:
    return metadata.packages_distributions()


@functools.cache
def _version(name) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _followed(files) -> list[Path]:
    """``files`` and every other local file their modules import or take names from."""
    by_path = {_module_file(m): m for name, m in list(sys.modules.items())
               if getattr(m, "__file__", None) and _versioned(name) is None}
    todo, done = list(dict.fromkeys(files)), set()
    while todo and len(done) < MAX_FILES:
        path = todo.pop()
        if path in done:
            continue
        done.add(path)
        module = by_path.get(path)
        for value in list(vars(module).values()) if module is not None else ():
            origin = (value if isinstance(value, types.ModuleType) else
                      sys.modules.get(getattr(value, "__module__", None) or ""))
            if origin is None or _versioned(getattr(origin, "__name__", "") or "builtins"):
                continue
            local = _module_file(origin)
            if local is not None and local not in done:
                todo.append(local)
    return sorted(done)


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:24]


_SAID: set = set()


def _code_digest(obj) -> str:
    """A digest of compiled code (functions, or a class's methods): for code with no file."""
    codes = ([obj.__code__] if hasattr(obj, "__code__") else
             [v.__code__ for _, v in sorted(vars(obj).items()) if hasattr(v, "__code__")]
             if isinstance(obj, type) else [])
    if qualname(obj) not in _SAID:
        _SAID.add(qualname(obj))
        warnings.warn(f"{qualname(obj)} has no source file; it is identified by its compiled "
                      "code, which misses edits to what it calls", stacklevel=3)
    return "code:" + hashlib.sha256(b"".join(marshal.dumps(c) for c in codes)).hexdigest()[:24]
