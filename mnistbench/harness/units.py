"""Units: one (dataset, model, split) to fit and score, and the plan of a run."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from mnistbench.harness.presets import Preset
from mnistbench.models import MODELS

__all__ = ["Unit", "params_hash", "plan_units", "record_key"]


@dataclasses.dataclass(frozen=True)
class Unit:
    """One (dataset, model, split) to fit and score; ``split`` is ``fold-k`` or ``test``."""

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

    @property
    def key(self):
        return (self.dataset, self.model, self.split, self.params_hash)


def record_key(record: dict):
    """The ``Unit.key`` of the unit a record belongs to."""
    return (record["dataset"], record["model"], record["split"], record["params_hash"])


def params_hash(dataset, model, preset: Preset, seed, params, data_fingerprint=None):
    """Hash of everything that changes a unit's result (not how many jobs run it).

    ``data_fingerprint`` identifies the content of a folder dataset, so records of
    a folder whose images changed are not reused.
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
    if data_fingerprint is not None:
        payload["data"] = data_fingerprint
    blob = json.dumps(payload, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def plan_units(datasets, models, preset: Preset, seed=0, device="auto", threads=None, verbose=0,
               fingerprints=None):
    """Every unit of a run, in order: per dataset and model, the folds then the test fit."""
    units = []
    fingerprints = fingerprints or {}
    for dataset in datasets:
        for model in models:
            entry = MODELS.get(model)  # an unknown name is the unit's failure, not the plan's
            params = preset.params_for(model, entry.family if entry else "classic")
            h = params_hash(dataset, model, preset, seed, params, fingerprints.get(dataset))
            splits = preset.splits + ["test"]
            units += [Unit(dataset, model, s, preset, seed, params, h, device, threads, verbose)
                      for s in splits]
    return units
