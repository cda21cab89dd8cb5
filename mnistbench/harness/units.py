"""Units: one (dataset, model, split) to fit and score, and the plan of a run."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from mnistbench.estimators.models import MODELS
from mnistbench.estimators.user_models import ModelSpec, builtin_spec
from mnistbench.evaluation.records import Record
from mnistbench.evaluation.tuning import TUNING, tuned_label
from mnistbench.harness.presets import Preset

__all__ = ["Unit", "model_budget", "params_hash", "plan_units", "record_key"]


@dataclasses.dataclass(frozen=True)
class Unit:
    """One (dataset, model, split) to fit and score; ``split`` is ``fold-k`` or ``test``.

    ``tune``: the grid of a tuned unit, which searches it on its own training data
    (nested CV; :mod:`mnistbench.evaluation.tuning`) and is recorded as ``<model>-tuned``.
    ``spec``: the model itself (None: the registry model named ``model``). ``source``:
    where a Dataset object's arrays are (``npz:PATH``; None: load ``dataset`` by name).
    ``data_fingerprint``: the planned fingerprint of a folder, npz or Dataset object's
    data, checked again where the unit loads it.
    """

    dataset: str
    model: str
    split: str
    preset: Preset
    seed: int
    params: dict
    params_hash: str
    device: str = "auto"
    threads: int | None = None
    verbose: int = 0
    tune: dict | None = None
    spec: ModelSpec | None = None
    source: str | None = None
    data_fingerprint: str | None = None

    @property
    def model_spec(self) -> ModelSpec:
        return self.spec if self.spec is not None else builtin_spec(self.model)

    @property
    def family(self) -> str | None:
        """The model's family: its spec's, its registry entry's; None for an unknown name."""
        if self.spec is not None:
            return self.spec.family
        entry = MODELS.get(self.model)
        return entry.family if entry else None

    @property
    def label(self):
        """The model's name in records and tables: ``svc``, or ``svc-tuned`` when tuned."""
        return tuned_label(self.model) if self.tune else self.model

    @property
    def key(self):
        return (self.dataset, self.label, self.split, self.params_hash)


def record_key(record) -> tuple:
    """The ``Unit.key`` of the unit a record (a :class:`Record` or its JSON object) belongs to."""
    return (record if isinstance(record, Record) else Record.from_dict(record)).unit_key


def params_hash(dataset, model, preset: Preset, seed, params, data_fingerprint=None,
                tune=None, identity=None):
    """Hash of everything that changes a unit's result (not how many jobs run it).

    ``data_fingerprint`` identifies the content of a folder or npz dataset, so records of
    a folder whose images changed are not reused. ``tune``: a tuned unit's grid.
    ``identity``: what a user's model is (:attr:`ModelSpec.identity`), so a changed
    parameter recomputes its units.
    """
    payload = {
        "dataset": dataset,
        "model": model,
        "cv": preset.cv,
        "cv_subsample": preset.cv_subsample,
        "train_subsample": preset.train_subsample,
        "seed": seed,
        "params": params,
    }
    if preset.repeats != 1:  # absent for one repeat: earlier records keep their hash
        payload["repeats"] = preset.repeats
    if preset.robustness:  # final fits carry robustness scores: records without are redone
        payload["robustness"] = preset.robustness
    if data_fingerprint is not None:
        payload["data"] = data_fingerprint
    if identity is not None:  # a user's model; absent for the registry's
        payload["estimator"] = identity
    if tune is not None:  # absent untuned: earlier records keep their hash
        payload["tune"] = {"grid": tune, "max_samples": preset.tune_max_samples, **TUNING}
    blob = json.dumps(payload, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def model_budget(model, preset: Preset):
    """``(name, spec, custom, params)`` of a model under ``preset``: its spec (None for a
    name the registry does not know, which its units report as their failure), the spec
    again when it is a user's model (None for a built-in), and its ``set_params`` budget."""
    spec = model if isinstance(model, ModelSpec) else None
    name = spec.name if spec else model
    if spec is None and name in MODELS:
        spec = builtin_spec(name)
    params = preset.params_for(name, spec.family if spec else "classic")
    custom = spec if spec and not spec.builtin else None
    return name, spec, custom, spec.budget(params) if spec else params


def plan_units(datasets, models, preset: Preset, seed=0, device="auto", threads=None, verbose=0,
               fingerprints=None, tune=False, sources=None):
    """Every unit of a run, in order: per dataset and model, the folds then the test fit;
    with ``tune``, then the same units of each model's tuned twin (over its grid).
    ``models``: :class:`~mnistbench.estimators.user_models.ModelSpec` or registry names."""
    units = []
    fingerprints = fingerprints or {}
    for dataset in datasets:
        for model in models:
            name, spec, custom, params = model_budget(model, preset)
            grids = [None] + ([spec.grid] if tune and spec and spec.grid else [])
            for grid in grids:
                h = params_hash(dataset, name, preset, seed, params, fingerprints.get(dataset),
                                tune=grid, identity=custom and custom.identity)
                units += [Unit(dataset, name, s, preset, seed, params, h, device, threads,
                               verbose, tune=grid, spec=custom,
                               source=(sources or {}).get(dataset),
                               data_fingerprint=fingerprints.get(dataset))
                          for s in preset.splits + ["test"]]
    return units
