"""Your own models beside the zoo: estimators, factories, a models file, installed plugins.

Every model of a run becomes a :class:`ModelSpec`: a built-in registry entry, or a user's
estimator (cloned for each unit) or factory (called for each unit, with the
``random_state``, ``device`` and ``n_jobs`` it accepts). A user's model is identified by
a stable rendering of what it is (its class's qualified name and its parameters,
nested estimators included, never a memory address) and by the code it runs (installed
packages by version, other files by content: :mod:`mnistbench.estimators.identity`),
which go into its units' hash: resuming re-uses a unit only while the model is the same,
and changing one parameter, or editing its file, recomputes that model's units only.

Where user models come from:

- Python: ``run_benchmark(models=["svc", ("mine", make_pipeline(...))])`` or a mapping
  ``{"mine": estimator_or_factory}``; wrap a value in :class:`CustomModel` to give its
  family, a tuning grid or a summary.
- A models file (``--models-from PATH.py``, :func:`load_models_file`): a Python file
  that defines ``MODELS = {name: estimator, factory or CustomModel}``. Loading it runs
  its code, as ``python PATH.py`` would. Worker processes (and Dask workers) load the
  file again rather than receive its objects, so classes defined in it work there too.
- Installed packages: an entry point in the group ``mnistbench.models`` whose object is an
  estimator, a factory or a CustomModel; it runs when named (or with ``"all"``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import inspect
import os
import pickle
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnistbench.errors import UsageError
from mnistbench.estimators.features import ROWS_STEP, rows_of_pixels, takes_images
from mnistbench.estimators.identity import changed_code, code_identity, qualname, render
from mnistbench.estimators.models import FAMILIES, MODELS, TUNED_SUFFIX, is_deep, make_model

__all__ = ["ALL_MODELS", "ENTRY_POINT_GROUP", "CustomModel", "ModelSpec", "builtin_spec",
           "entry_point_models", "load_models_file", "resolve_models"]

ENTRY_POINT_GROUP = "mnistbench.models"
#: A model name of ``models=`` and ``--models`` that names every built-in and installed one.
ALL_MODELS = "all"
BUILT_IN = "built-in"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclasses.dataclass(frozen=True)
class CustomModel:
    """A model of your own, with what the harness cannot read from it.

    Parameters
    ----------
    estimator : estimator, estimator class or callable
        An unfitted scikit-learn-style estimator (``fit``, ``predict``, ``get_params``),
        cloned for each unit; or a factory returning one, called for each unit with
        those of ``random_state``, ``device`` and ``n_jobs`` it accepts.
    family : {"classic", "deep"}, optional
        Which preset budget applies (the CNNs' epochs for "deep"). Default: "deep" when
        the estimator, or a pipeline's final step, is a
        :class:`~mnistbench.KerasCNNClassifier` (its ``_mnistbench_family``), else
        "classic".
    grid : dict, optional
        The ``set_params`` grid that ``--tune`` searches (no tuned row without one).
    summary : str, optional
        One line for ``mnistbench list``.
    input : {"images", "rows"}, optional
        What the run gives it: images ``(n, h, w)``, or flat rows ``(n, h*w)`` of the raw
        pixels (``X.reshape(len(X), -1)``). Default: "images" for the CNN, mnistbench's
        image transformers and pipelines that start with them (``_mnistbench_input``),
        "rows" for any other estimator, so a plain scikit-learn classifier just works.
    """

    estimator: Any
    family: str | None = None
    grid: dict | None = None
    summary: str = ""
    input: str | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class ModelSpec:
    """One model of a run, resolved and checked: what the harness builds each unit from.

    Attributes
    ----------
    name : str
    family : {"classic", "deep"}
    grid : dict
    summary : str
    origin : str
        "built-in", "python", "file PATH" or "entry point NAME (DISTRIBUTION)".
    identity : dict or None
        What the model is (class, parameters and code), hashed into its units' keys; None
        for the built-ins, whose name says it.
    """

    name: str
    make: Any = dataclasses.field(repr=False)
    family: str
    grid: dict
    summary: str
    origin: str
    identity: dict | None = None
    param_keys: frozenset = dataclasses.field(default=frozenset(), repr=False)
    final_step: str | None = dataclasses.field(default=None, repr=False)
    source: tuple | None = dataclasses.field(default=None, repr=False)
    input: str = "images"

    @property
    def builtin(self) -> bool:
        return self.origin == BUILT_IN

    def build(self, random_state=None, device="auto", n_jobs=None):
        """A fresh, unfitted estimator for one unit."""
        if self.builtin:
            return make_model(self.name, random_state=random_state, device=device,
                              n_jobs=n_jobs)
        changed = changed_code((self.identity or {}).get("code", {}))
        if changed:
            raise UsageError(f"the code of model {self.name!r} changed during the run "
                             f"({', '.join(changed)}); nothing is recorded for it under its "
                             "old identity: run the command again")
        make = self.make if self.make is not None else _reload(self)
        est = _instantiate(make, random_state, device, n_jobs)
        return rows_of_pixels(est, ROWS_STEP) if self.input == ROWS else est

    @property
    def _prefix(self) -> str:
        return f"{ROWS_STEP}__" if self.input == ROWS else ""

    def search_grid(self, grid: dict) -> dict:
        """``grid`` (as the user wrote it) keyed for the estimator :meth:`build` returns."""
        return {self._prefix + k: v for k, v in grid.items()}

    def budget(self, params: dict) -> dict:
        """The preset's ``set_params`` overrides as this model takes them: a user's
        pipeline takes a family's budget (``epochs``) on its final step; keys it does not
        have are left out."""
        if self.builtin:
            return dict(params)
        out = {}
        for key, value in params.items():
            if key in self.param_keys:
                out[self._prefix + key] = value
            elif self.final_step and f"{self.final_step}__{key}" in self.param_keys:
                out[f"{self._prefix}{self.final_step}__{key}"] = value
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        if self.builtin or self.source is not None:
            state["make"] = None  # rebuilt where it is used: the registry, or the file
        return state


#: ``input`` of a model that gets flat rows (its estimator named ``ROWS_STEP`` in the
#: pipeline that flattens the images for it), or images.
ROWS = "rows"
INPUTS = ("images", ROWS)


def builtin_spec(name: str) -> ModelSpec:
    """The spec of a registry model."""
    entry = MODELS.get(name)
    if entry is None:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return ModelSpec(name, None, entry.family, dict(entry.grid), entry.summary, BUILT_IN)


# --------------------------------------------------------------------------- building
def _is_estimator(obj) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "fit")


def _instantiate(make, random_state, device, n_jobs):
    from sklearn.base import clone  # noqa: PLC0415 - keep `mnistbench list` light

    if not _is_estimator(make):  # a factory (a function, or an estimator class)
        offered = {"random_state": random_state, "device": device, "n_jobs": n_jobs}
        try:
            signature = inspect.signature(make)
        except (TypeError, ValueError):  # a builtin without one: call it bare
            return make()
        params = signature.parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return make(**offered)
        return make(**{k: v for k, v in offered.items() if k in params})
    est = clone(make)
    if random_state is not None:  # one seed flows to every random_state left unset
        unset = {k: random_state for k, v in est.get_params(deep=True).items()
                 if (k == "random_state" or k.endswith("__random_state")) and v is None}
        if unset:
            est.set_params(**unset)
    return est


def _spec(name, value, origin, source=None) -> ModelSpec:
    """Check a user's model before any work and resolve it into a spec."""
    custom = value if isinstance(value, CustomModel) else CustomModel(value)
    make = custom.estimator
    where = f"model {name!r} ({origin})"
    if not (callable(make) or hasattr(make, "fit")):
        raise UsageError(f"{where} is {type(make).__name__} {make!r:.60}, not an estimator or a "
                         "factory: give an object with fit and predict, or a function that "
                         "returns one")
    try:
        probe = _instantiate(make, 0, "auto", 1)
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure, named
        raise UsageError(f"{where}: building it raised {type(exc).__name__}: {exc}; call "
                         "it yourself to see why") from None
    missing = [m for m in ("fit", "predict", "get_params") if not callable(getattr(probe, m, None))]
    if missing:
        what = "its factory returned" if not _is_estimator(make) else "it is"
        raise UsageError(f"{where}: {what} {type(probe).__name__}, which has no "
                         f"{' or '.join(missing)}: the harness needs a scikit-learn-style "
                         "classifier (derive from sklearn.base.BaseEstimator and "
                         "ClassifierMixin)")
    family = custom.family or ("deep" if is_deep(probe) else "classic")
    if family not in FAMILIES:
        raise UsageError(f"{where}: family={family!r}; choose from {FAMILIES}")
    if custom.grid is not None and not isinstance(custom.grid, Mapping):
        raise UsageError(f"{where}: grid={custom.grid!r} is not a dict of parameter lists")
    if custom.input not in (None, *INPUTS):
        raise UsageError(f"{where}: input={custom.input!r}; choose 'images' (n, h, w) or "
                         "'rows' (n, h*w), or leave it out")
    model_input = custom.input or ("images" if takes_images(probe) else ROWS)
    try:
        identity = ({"class": render(probe)} if _is_estimator(make) else
                    {"factory": qualname(make), "builds": render(probe)})
        identity["code"] = code_identity(make, probe, files=[source[0]] if source else ())
        identity["input"] = model_input
        keys = frozenset(probe.get_params(deep=True))
    except Exception as exc:  # noqa: BLE001 - a get_params that fails
        raise UsageError(f"{where}: reading its parameters raised {type(exc).__name__}: "
                         f"{exc}; get_params(deep=True) must work, as scikit-learn's "
                         "clone needs it") from None
    steps = getattr(probe, "steps", None)
    final = steps[-1][0] if isinstance(steps, list) and steps else None
    spec = ModelSpec(name, make, family, dict(custom.grid or {}),
                     custom.summary or _summary(make, probe), origin, identity, keys, final,
                     source, model_input)
    if source is None:
        _check_picklable(spec, where)
    return spec


def _summary(make, probe) -> str:
    """One line for ``list``: a factory's docstring's first line, else what it builds."""
    doc = None if _is_estimator(make) or isinstance(make, type) else inspect.getdoc(make)
    if doc:
        return doc.splitlines()[0]
    steps = getattr(probe, "steps", None)
    if isinstance(steps, list):
        return " -> ".join(type(step).__name__ for _, step in steps)
    return type(probe).__name__


def _check_picklable(spec, where):
    try:
        pickle.dumps(spec)
    except Exception as exc:  # noqa: BLE001 - lambdas, local classes, open handles...
        raise UsageError(f"{where} cannot be sent to the worker processes ({type(exc).__name__}: "
                         f"{exc}): define its classes and functions at the top level of a "
                         "module, or put it in a file for --models-from") from None
    module = getattr(type(spec.make) if _is_estimator(spec.make) else spec.make,
                     "__module__", None)
    main = sys.modules.get("__main__")
    if module == "__main__" and not os.path.isfile(getattr(main, "__file__", None) or ""):
        # an interactive session, a notebook, ``-c`` or a script on standard input
        raise UsageError(f"{where} is defined in an interactive session, which the worker "
                         "processes cannot import: put it in a file and load it with "
                         "mnistbench.load_models_file(PATH)")


def _check_name(name, origin):
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"model name {name!r} ({origin}): use letters, digits and . _ + - "
                         "only (no spaces or '/'), starting with a letter or digit")
    if name in MODELS:
        raise UsageError(f"model name {name!r} ({origin}) is a built-in model's name; give "
                         "yours another name (the built-in is never silently replaced)")
    if name.endswith(TUNED_SUFFIX) or name == ALL_MODELS:
        raise UsageError(f"model name {name!r} ({origin}) is reserved (names ending in "
                         f"{TUNED_SUFFIX!r} are tuned rows, {ALL_MODELS!r} means every "
                         "model); give yours another name")


# --------------------------------------------------------------------------- sources
_FILES: dict = {}  # (path, digest) -> {name: ModelSpec}: each file runs once per process
_LOADING: list = []  # the models files being run now, innermost last


def load_models_file(path, note=None) -> dict:
    """The models a Python file defines in ``MODELS = {name: estimator, factory or
    CustomModel}``, as ``{name: ModelSpec}``. This runs the file's code, as ``python PATH``
    would; a worker process loads it again (by path, checked by content) rather than
    receive its objects. ``note``: where to say that the file runs."""
    path = Path(path).expanduser()
    flag = f"--models-from {path}"
    if not path.is_file():
        raise UsageError(f"{flag}: no such file; give the path of a Python file that defines "
                         "MODELS = {'my-model': estimator_or_factory}")
    if path.suffix != ".py":
        raise UsageError(f"{flag}: not a .py file; give a Python file that defines MODELS")
    path = path.resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    key = (str(path), digest)
    if key in _FILES and any(changed_code(spec.identity["code"]) for spec in _FILES[key].values()):
        del _FILES[key]  # a file it imports changed since: its models' identities too
    if key not in _FILES:
        if note:
            note(f"running {path} to read its MODELS (its code runs, as `python {path}` "
                 "would)")
        before = set(sys.modules)
        try:
            _FILES[key] = _models_of(_run_file(path, digest, flag), path, digest, flag)
        finally:
            _forget_neighbours(path.parent, before)
    return dict(_FILES[key])


def _run_file(path, digest, flag):
    module_name = f"mnistbench_models_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # its classes (dataclasses too) resolve by module
    sys.path.insert(0, str(path.parent))  # a module beside it imports, wherever we run
    _LOADING.append(path)
    try:
        spec.loader.exec_module(module)
    except UsageError as exc:
        sys.modules.pop(module_name, None)
        raise UsageError(f"{flag}: {exc}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code, named
        sys.modules.pop(module_name, None)
        line = next((f" (line {f.lineno})" for f in reversed(_frames(exc))
                     if f.filename == str(path)), "")
        raise UsageError(f"{flag}: running it raised {type(exc).__name__}{line}: {exc}; run "
                         f"`python {path}` to see the traceback") from None
    finally:
        _LOADING.pop()
        with contextlib.suppress(ValueError):
            sys.path.remove(str(path.parent))
    return module


def _forget_neighbours(folder: Path, before) -> None:
    """Modules a models file imported from its own folder (``helpers.py`` beside it) are
    not kept under their plain names: another models file's ``helpers`` must not be found
    in their place, and an edited one is imported anew the next time."""
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None)
        if (file and not name.startswith("mnistbench_models_")
                and folder in Path(file).resolve().parents):
            sys.modules.pop(name, None)


def check_not_loading_a_models_file(caller) -> None:
    """A models file that starts a run when it is loaded would start a hidden run inside
    the real one (and again in every worker): refused, naming the fix."""
    if _LOADING:
        raise UsageError(f"it calls {caller} when it is loaded, which would start a run "
                         "inside the run that loads it; put that call under "
                         "`if __name__ == \"__main__\":`")


def _frames(exc):
    import traceback  # noqa: PLC0415 - only for a failing models file

    return traceback.extract_tb(exc.__traceback__)


def _models_of(module, path, digest, flag) -> dict:
    models = getattr(module, "MODELS", None)
    if models is None:
        raise UsageError(f"{flag}: the file defines no MODELS; add MODELS = "
                         "{'my-model': estimator_or_factory}")
    if not isinstance(models, Mapping) or not models:
        raise UsageError(f"{flag}: MODELS is {type(models).__name__} {models!r:.60}; make it a "
                         "non-empty dict of name -> estimator, factory or CustomModel")
    out = {}
    for name, value in models.items():
        origin = f"file {path}"
        _check_name(name, origin)
        out[name] = _spec(name, value, origin, source=(str(path), digest))
    return out


def _reload(spec: ModelSpec):
    """A file model's estimator or factory, in a process that received only its spec."""
    path, digest = spec.source
    loaded = load_models_file(path)
    if spec.name not in loaded or loaded[spec.name].source != spec.source:
        raise UsageError(f"the code of model {spec.name!r} changed during the run ({path}); "
                         "nothing is recorded for it under its old identity: run the command "
                         "again")
    return loaded[spec.name].make


def entry_point_models(note=None, broken=None) -> dict:
    """Models registered by installed packages in the ``mnistbench.models`` entry-point
    group, as ``{name: ModelSpec}``. One that fails to load or check is left out with a
    ``note`` naming it (and its reason kept in ``broken``, by name); the others go on."""
    from importlib import metadata  # noqa: PLC0415 - only when a name needs it

    out = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None)
        origin = f"entry point {ep.name}" + (f" ({dist})" if dist else "")
        try:
            _check_name(ep.name, origin)
            out[ep.name] = _spec(ep.name, ep.load(), origin)
        except Exception as exc:  # noqa: BLE001 - an installed package's failure, named
            why = f"{origin} failed to load ({type(exc).__name__}: {exc})"
            if broken is not None:
                broken[ep.name] = why
            if note:
                note(f"{origin} left out: {type(exc).__name__}: {exc}")
    return out


def resolve_models(models=None, note=None) -> list:
    """The models of a run as specs, checked before any work.

    ``models``: None (every built-in model), ``"all"`` (built-ins and installed entry
    points), a name, a ``{name: estimator_or_factory}`` mapping, or a list of names,
    ``(name, estimator_or_factory)`` pairs and :class:`ModelSpec` (of
    :func:`load_models_file`). A model given twice runs once (with a ``note``); two
    different models under one name are an error.
    """
    if models is None:
        return [builtin_spec(n) for n in MODELS]
    installed, broken = None, {}

    def from_name(name):
        nonlocal installed
        if name in MODELS:
            return [builtin_spec(name)]
        if installed is None:
            installed = entry_point_models(note, broken)
        if name == ALL_MODELS:
            return [builtin_spec(n) for n in MODELS] + list(installed.values())
        if name in installed:
            return [installed[name]]
        if name in broken:  # an installed package's model that fails to load: say why
            raise UsageError(f"model {name!r}: {broken[name]}; fix or reinstall that package")
        more = f"; installed: {', '.join(installed)}" if installed else ""
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(MODELS)}{more}, or "
                         "bring your own: --models-from FILE.py, or (name, estimator) in Python")

    specs = []
    for item in _items(models):
        if isinstance(item, str):
            specs += from_name(item)
        elif isinstance(item, ModelSpec):
            specs.append(item)
        else:
            name, value = item
            _check_name(name, "python")
            specs.append(_spec(name, value, "python"))
    return _unique(specs, note)


def _items(models) -> list:
    if isinstance(models, (str, ModelSpec)):
        return [models]
    if isinstance(models, Mapping):
        return [v if isinstance(v, ModelSpec) and v.name == k else (k, v)
                for k, v in models.items()]
    if isinstance(models, tuple) and _is_pair(models):  # one (name, estimator) pair
        return [models]
    try:
        items = list(models)
    except TypeError:
        raise UsageError(f"models={models!r:.60}: give a list of names and (name, estimator) "
                         "pairs, or a dict of name -> estimator") from None
    if not items:
        raise UsageError("models=[] names nothing; give at least one model, or leave it out "
                         f"for every built-in one ({', '.join(MODELS)})")
    for item in items:
        if not isinstance(item, (str, ModelSpec)) and not _is_pair(item):
            raise UsageError(f"models: {item!r:.60} is not a model name, a (name, estimator) "
                             "pair or a loaded ModelSpec")
    return [tuple(i) if _is_pair(i) else i for i in items]


def _is_pair(item) -> bool:
    return (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
            and not isinstance(item[1], str))


def _unique(specs, note) -> list:
    seen: dict = {}
    twice = []
    for spec in specs:
        other = seen.get(spec.name)
        if other is None:
            seen[spec.name] = spec
        elif other is spec or (other.builtin and spec.builtin) or (
                other.identity == spec.identity and other.origin == spec.origin):
            twice.append(spec.name)
        else:
            raise UsageError(f"two different models are named {spec.name!r} ({other.origin}; "
                             f"{spec.origin}); give them different names")
    if twice and note:
        note(f"models: {', '.join(dict.fromkeys(twice))} given more than once; each runs once")
    return list(seen.values())
