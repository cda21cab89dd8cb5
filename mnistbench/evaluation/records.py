"""The typed record of one finished unit, and its split: one schema, read and written here.

A record is one line of a results folder's ``records.jsonl`` (see
:class:`mnistbench.harness.store.RecordStore`); on disk it stays a flat JSON object, so
old stores load unchanged and other tools read them with ``json`` or ``pandas``. In the
package it is a :class:`Record`, read through attributes. A split is a :class:`Split`,
written as ``test``, ``fold-<k>``, ``r<repeat>-fold-<k>`` (repeated CV) or
``n<size>-r<repeat>`` (a learning-curve point), and parsed here only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OK_NUMBERS", "RECORD_FIELDS", "SCHEMA_VERSION", "STATUSES", "Record", "Split", "as_records",
           "parse_record"]

#: The version of the record schema; a record without one is of version 1.
SCHEMA_VERSION = 1

_FOLD = re.compile(r"(?:r(\d+)-)?fold-(\d+)")
_CURVE = re.compile(r"n(\d+)-r(\d+)")


@dataclass(frozen=True, order=True)
class Split:
    """Which data a unit fit and scored: a CV fold (of one repeat when ``repeat`` is set),
    the final fit scored on the test split, or a learning-curve point of ``size`` images."""

    kind: str  # "fold", "test" or "curve"
    repeat: int | None = None
    fold: int | None = None
    size: int | None = None

    @classmethod
    def parse(cls, text: str) -> Split:
        """The split named ``text``; a ``ValueError`` for any other text."""
        if text == "test":
            return cls("test")
        if match := _FOLD.fullmatch(text):
            return cls("fold", repeat=int(match[1]) if match[1] else None, fold=int(match[2]))
        if match := _CURVE.fullmatch(text):
            return cls("curve", repeat=int(match[2]), size=int(match[1]))
        raise ValueError(f"not a split name: {text!r} (test, fold-k, r<i>-fold-k or n<size>-r<i>)")

    @classmethod
    def cv_folds(cls, cv: int, repeats: int = 1) -> list[Split]:
        """The CV units' splits: ``fold-k``, or ``r<i>-fold-k`` when repeated."""
        return [cls("fold", repeat=r if repeats > 1 else None, fold=k)
                for r in range(1, repeats + 1) for k in range(1, cv + 1)]

    @classmethod
    def curve(cls, size: int, repeat: int) -> Split:
        return cls("curve", repeat=repeat, size=size)

    @property
    def is_test(self) -> bool:
        return self.kind == "test"

    @property
    def is_fold(self) -> bool:
        return self.kind == "fold"

    @property
    def is_curve(self) -> bool:
        return self.kind == "curve"

    def __str__(self) -> str:
        if self.kind == "test":
            return "test"
        if self.kind == "curve":
            return f"n{self.size}-r{self.repeat}"
        return f"fold-{self.fold}" if self.repeat is None else f"r{self.repeat}-fold-{self.fold}"


@dataclass(frozen=True)
class Record:
    """One finished unit: what ran (dataset, model, split, preset, parameters), how it went
    (status, error, warnings) and what it measured. Fields a record does not carry are
    None; keys this version does not know are kept in ``extra`` and written back."""

    dataset: str
    model: str
    split: Split
    status: str  # "ok", "failed" or "timeout"
    params_hash: str = ""
    preset: str | None = None
    seed: int | None = None
    params: dict = field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None
    n_train: int | None = None
    n_test: int | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    error: str | None = None
    warnings: tuple = ()
    family: str | None = None
    origin: str | None = None
    tuned_from: str | None = None
    grid: dict | None = None
    device: str | None = None
    thread_caps: Any = None
    history: dict | None = None
    budget: dict | None = None
    test_set: str | None = None
    labels: list | None = None
    class_names: list | None = None
    confusion: list | None = None
    predictions: dict | None = None
    robustness: dict | None = None
    search: dict | None = None
    versions: dict | None = None
    host: str | None = None
    timestamp: str | None = None
    store: str | None = None
    id: str | None = None
    schema: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: dict) -> Record:
        """A record from its JSON object (any schema version so far)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in obj.items() if k in known}
        split = values["split"]
        values["split"] = split if isinstance(split, Split) else Split.parse(split)
        values["warnings"] = tuple(values.get("warnings") or ())
        return cls(**values, extra={k: v for k, v in obj.items() if k not in known})

    def to_dict(self) -> dict:
        """The JSON object of this record: the fields it carries (None and empty warnings
        left out), then ``extra``."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is None or (f.name == "warnings" and not value):
                continue
            out[f.name] = str(value) if f.name == "split" else (
                list(value) if f.name == "warnings" else value)
        return {**out, **self.extra}

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def ref(self) -> str:
        """What a run entry calls this record by: its ``id`` (stamped by the store since
        runs are recorded), else a digest of its JSON object (a record written before)."""
        if self.id:
            return self.id
        blob = json.dumps(self.to_dict(), sort_keys=True, default=repr).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()[:24]

    @property
    def unit_key(self) -> tuple:
        """What makes two records the same unit's: dataset, model, split, parameters."""
        return (self.dataset, self.model, str(self.split), self.params_hash)

    # Read access by key, for scripts written against the JSON objects.
    def __getitem__(self, key):
        if key == "split":
            return str(self.split)
        if key in self.extra:
            return self.extra[key]
        value = getattr(self, key) if key in _FIELDS else None
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    __iter__ = None  # not a mapping: use to_dict() for the keys


_FIELDS = frozenset(f.name for f in dataclasses.fields(Record)) - {"extra"}


def as_records(records) -> list[Record]:
    """``records`` as :class:`Record` objects (JSON objects are converted)."""
    return [r if isinstance(r, Record) else Record.from_dict(r) for r in records]


# --------------------------------------------------------------------------- the parser
#: Fields every record has; a line without them is not a record.
RECORD_FIELDS = {"dataset": str, "model": str, "split": str, "params_hash": str, "status": str}
#: What a finished unit is recorded as.
STATUSES = ("ok", "failed", "timeout")
#: Numbers an ``ok`` record must carry, with their allowed range.
OK_NUMBERS = {"accuracy": (0.0, 1.0), "n_train": (0, None), "n_test": (0, None)}


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = sorted(k for k, n in Counter(keys).items() if n > 1)
        raise ValueError(f"duplicated key(s) {dup}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"non-finite number {name}")


def parse_record(raw):
    """One line of a store -> the :class:`Record`, or a ``str`` saying why it is not one.

    The one schema every reader goes through: valid JSON without duplicated keys or
    non-finite numbers, the :data:`RECORD_FIELDS` with their types, a known status,
    and for an ``ok`` record a finite accuracy in [0, 1] and whole sizes.
    """
    try:
        obj = json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except RecursionError:
        return "nested too deeply"
    except (ValueError, UnicodeDecodeError) as exc:
        return str(exc).split(":")[0]
    if not isinstance(obj, dict):
        return "not a JSON object"
    for key, kind in RECORD_FIELDS.items():
        if not isinstance(obj.get(key), kind):
            return f"no {key!r}" if key not in obj else f"{key!r} is not a {kind.__name__}"
    if obj["status"] not in STATUSES:
        return f"unknown status {obj['status']!r}"
    if obj["status"] == "ok":
        for key, (low, high) in OK_NUMBERS.items():
            value = obj.get(key)
            whole = key != "accuracy"
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or (whole and not isinstance(value, numbers.Integral))
                    or not math.isfinite(value) or value < low
                    or (high is not None and value > high)):
                return f"an ok record without a valid {key!r}"
    try:
        return Record.from_dict(obj)
    except (TypeError, ValueError) as exc:
        return str(exc)
