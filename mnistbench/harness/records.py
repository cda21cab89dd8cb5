"""The resumable record store: one JSON line per finished unit."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from mnistbench.harness.units import record_key
from mnistbench.hostinfo import host_description

__all__ = ["RECORD_FIELDS", "RecordStore"]

#: Fields every record has; a line without them is not a record.
RECORD_FIELDS = {"dataset": str, "model": str, "split": str, "params_hash": str, "status": str}


def _is_record(obj) -> bool:
    return isinstance(obj, dict) and all(isinstance(obj.get(k), t) for k, t in RECORD_FIELDS.items())


class RecordStore:
    """Append-only JSON-lines file of finished units.

    Each record is written with one ``write`` on a file opened in append mode and
    fsync'd, so a crash loses at most the line being written. A torn last line
    (kill -9 in the middle of a write) is closed with a newline before the next
    record, so it never swallows that record; unreadable lines and lines that are
    not records are skipped with one warning naming them, and their units run again.

    Ownership: the first run that writes to a folder leaves an owner file
    (``.mnistbench-owner.json``, never shipped: .gitignore'd in the repository)
    with a random store id, and stamps it on each record. A run resumes only
    records of its own store made on this machine, so records copied in from
    elsewhere (the reference results of a clone, say) are never passed off as a
    user's: they are recomputed, and ``report`` shows them only for a folder no run
    has claimed.
    """

    OWNER_FILE = ".mnistbench-owner.json"

    def __init__(self, path):
        self.path = Path(path)
        self._skipped = None

    @property
    def owner_path(self) -> Path:
        return self.path.parent / self.OWNER_FILE

    def store_id(self, create=False):
        """This folder's store id (None if no run claimed it; ``create`` claims it)."""
        try:
            owner = json.loads(self.owner_path.read_text())
            if isinstance(owner, dict) and isinstance(owner.get("store_id"), str):
                return owner["store_id"]
        except (OSError, ValueError):
            pass
        if not create:
            return None
        store_id = uuid.uuid4().hex[:16]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.owner_path.write_text(json.dumps({
            "store_id": store_id, "host": host_description(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": "written by mnistbench: records stamped with this id are this folder's own "
                    "and may be resumed; do not copy this file with the records",
        }, indent=1) + "\n")
        return store_id

    def append(self, record: dict) -> None:
        """Append one record, stamped with this folder's store id."""
        record = {**record, "store": self.store_id(create=True)}
        line = (json.dumps(record, default=_json_default) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # close a torn last line: it must not swallow this one
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, warn=True) -> list[dict]:
        """Every record in the file, in order; skipped lines are warned about once."""
        if not self.path.exists():
            return []
        records, bad = [], []
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    obj = None
                if _is_record(obj):
                    records.append(obj)
                else:
                    bad.append(number)
        if bad and warn and bad != self._skipped:
            self._skipped = bad
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            warnings.warn(
                f"{self.path}: skipped {len(bad)} line(s) that are not records (line {shown}): "
                "an interrupted write or an edited file; their units are run again",
                stacklevel=2)
        return records

    def own_records(self, host=None) -> list[dict]:
        """Records of this folder's own store (and, with ``host``, made on that machine)."""
        store_id = self.store_id()
        return [r for r in self.load() if store_id is not None and r.get("store") == store_id
                and (host is None or r.get("host") == host)]

    def finished_keys(self, host=None) -> set:
        """Keys of this store's own units recorded as ``ok`` (failed and timed-out units
        are retried); with ``host``, only those recorded on that machine."""
        return {record_key(r) for r in self.own_records(host) if r.get("status") == "ok"}

    def reportable(self) -> list[dict]:
        """The records a report shows: the folder's own once a run has claimed it, else
        all of them (a folder of reference results)."""
        return self.own_records() if self.store_id() else self.load()


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)
