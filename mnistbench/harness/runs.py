"""Runs: one entry per ``run``, ``run-all`` or ``learning-curve`` invocation, in
``<output>/runs.jsonl`` beside the records.

A record says what one unit measured; a run entry says which records one invocation
used. It holds the run's id (UTC start time to the microsecond plus random hex digits:
ids sort by start and never repeat), its start and end and how it ended, the options,
preset and seed, the datasets with their data fingerprints, the models with their
identities, and every planned unit with the record it used: one it computed, one it
reused (the folder's own, identical identity), or its failure. ``report`` renders exactly
one run from that list (:func:`run_records`), so a table always shows the run that was
made, never the newest record of a name. Entries are appended with the records' rules:
one ``write``, fsync'd, under the folder's lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import secrets
import sys
import warnings
from pathlib import Path

from mnistbench._version import __version__
from mnistbench.errors import UsageError
from mnistbench.evaluation.records import Record
from mnistbench.harness.store import RecordStore, RunLog, run_records
from mnistbench.hostinfo import host_description
from mnistbench.reporting.curve_tables import write_curve_report
from mnistbench.reporting.report import choose_run, latest_records, write_report

__all__ = ["benchmark_records", "new_run_id", "recorded_run", "render_run"]


def new_run_id() -> str:
    """``20261204T160102.123456Z-3f9a1c``: sorts by start time, unique."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def benchmark_records(folder, run_id=None) -> tuple[list[Record], str]:
    """The records of one benchmark run of ``folder`` (the newest, or ``run_id``) and a
    label naming it; a folder written before runs were recorded gives the newest records
    of its newest preset and seed. A :class:`UsageError` when there is none."""
    store = RecordStore(Path(folder) / "records.jsonl")
    log = RunLog(folder)
    if log.load():
        try:
            entry = log.choose(run_id, kind="benchmark")
        except ValueError as exc:
            raise UsageError(f"{folder}: {exc}") from None
        if entry.get("kind") == "learning-curve":
            raise UsageError(f"{folder}: run {entry['run']} is a learning curve, not a "
                             "benchmark run; give a run of run or run-all")
        return run_records(entry, store.load())[0], f"{folder} run {entry['run']}"
    if run_id is not None:
        raise UsageError(f"{folder}: --run {run_id}: this folder records no runs (it was "
                         "written before runs were recorded)")
    records = [r for r in store.reportable() if not r.split.is_curve]
    if not records:
        raise UsageError(f"{folder}: no records of a run here; give a folder that holds a "
                         "run's records.jsonl (run-all writes mnistbench-results/)")
    preset, seed = choose_run(records)
    return (latest_records(records, preset, seed),
            f"{folder} (preset {preset}, seed {seed}; written before runs were recorded)")


def render_run(entry: dict, records, out_dir, figures=True, reference=None):
    """Tables, figures and report of exactly the run ``entry`` (its units' records out of
    ``records``); returns its table. ``run`` and a later ``report`` of the run both come
    here, so they write the same tables. ``reference``: ``(records, label)`` of a run to
    compare this one with (``report --reference``), as :func:`benchmark_records` gives it."""
    chosen, missing = run_records(entry, records)
    if missing and entry.get("status") == "finished":
        warnings.warn(f"run {entry['run']}: {len(missing)} of its units have no record left in "
                      "records.jsonl (edited or damaged lines); their rows are missing",
                      stacklevel=2)
    if entry.get("kind") == "learning-curve":
        return write_curve_report(chosen, out_dir, figures=figures)
    return write_report(chosen, out_dir, entry["preset"], entry["seed"], figures=figures,
                        run=entry["run"], reference=reference)


@dataclasses.dataclass
class _Run:
    """A run being made: its entry's fields, filled in as the run goes."""

    entry: dict
    units: list = dataclasses.field(default_factory=list)
    reused: dict = dataclasses.field(default_factory=dict)

    def plan(self, units, reused: dict) -> None:
        """The run's units (in plan order) and ``{key: Record}`` of those it reuses."""
        self.units, self.reused = list(units), dict(reused)

    def finish(self, store: RecordStore, status: str) -> dict:
        computed = {r.unit_key: r for r in store.written}  # the last one of a key wins
        units = []
        for unit in self.units:
            key = unit.key
            record = computed.get(key) or self.reused.get(key)
            used = ("not run" if record is None else "reused" if key not in computed
                    else "computed" if record.ok else record.status)
            units.append({"key": list(key), "used": used,
                          "record": record.ref if record is not None else None})
        self.entry.update(ended=_now(), status=status, units=units)
        return self.entry


@contextlib.contextmanager
def recorded_run(store: RecordStore, kind, opts, preset, datasets, models, fingerprints):
    """Record the run made inside the block in ``runs.jsonl`` when it ends, however it
    ends (finished, interrupted, failed). Yields the run: call ``plan`` once the units
    are known. ``models``: names or ModelSpecs; ``fingerprints``: the planned data
    fingerprints of the datasets that have one."""
    run = _Run({
        "run": new_run_id(), "kind": kind, "started": _now(), "argv": sys.argv[1:],
        "preset": preset.name, "seed": opts.seed,
        "options": json.loads(json.dumps(dataclasses.asdict(opts), default=repr)),
        "datasets": {d: fingerprints.get(d) for d in datasets},
        "models": {getattr(m, "name", m): _model_entry(m) for m in models},
        "host": host_description(), "mnistbench": __version__,
    })
    status = "finished"
    try:
        yield run
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException as exc:
        status = f"failed ({type(exc).__name__})"
        raise
    finally:
        if run.units:
            run.entry["store"] = store.store_id()
            RunLog(store.path.parent).append(run.finish(store, status))


def _model_entry(model) -> dict:
    origin = getattr(model, "origin", "built-in")
    identity = getattr(model, "identity", None)
    if identity is None:
        return {"origin": origin}
    blob = json.dumps(identity, sort_keys=True, default=repr).encode()
    return {"origin": origin, "identity": hashlib.sha256(blob).hexdigest()[:16]}
