"""A results folder's store: records.jsonl (one JSON line per finished unit) and runs.jsonl
(one entry per run, naming the record each of its units used); one writer per folder."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from mnistbench.errors import OutputError, UsageError, check_writable_file, open_regular_file
from mnistbench.evaluation.records import Record, parse_record
from mnistbench.hostinfo import host_description

__all__ = ["RUNS_FILE", "FolderInUseError", "RecordStore", "RunLog", "parse_record", "run_records",
           "run_summary"]


class FolderInUseError(OutputError):
    """Another run holds the results folder (one writer per folder)."""


def _write_atomically(path: Path, text: str, replace: bool) -> bool:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, fsync'd, then
    linked or renamed into place). ``replace=False``: only if ``path`` does not exist
    yet; returns False when another process made it first."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic: fails if the file exists
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class RecordStore:
    """Append-only JSON-lines file of finished units.

    Each record is written with one ``write`` on a file opened in append mode and
    fsync'd, so a crash loses at most the line being written. A torn last line
    (kill -9 in the middle of a write) is closed with a newline before the next
    record, so it never swallows that record; lines that :func:`parse_record` refuses
    (unreadable, duplicated keys, non-finite numbers, missing fields) are skipped with
    one warning naming them, and their units run again.

    Ownership: the first run that writes to a folder leaves an owner file
    (``.mnistbench-owner.json``, never shipped: .gitignore'd in the repository)
    with a random store id, made atomically, and stamps it on each record. A run
    resumes only records of its own store made on this machine, so records copied
    in from elsewhere (the reference results of a clone, say) are never passed off
    as a user's: they are recomputed, and ``report`` shows them only for a folder no
    run has claimed. A damaged owner file is repaired from the store id its records
    carry, never by disowning them.

    One writer: :meth:`writer` holds the folder's lock (``filelock``) for a whole run,
    so a second run on the same folder waits or is told who holds it.
    """

    OWNER_FILE = ".mnistbench-owner.json"
    LOCK_FILE = ".mnistbench.lock"
    HOLDER_FILE = ".mnistbench-lock.json"

    def __init__(self, path):
        self.path = Path(path)
        self._skipped = None
        #: The records this object appended, in order (one run's computed units).
        self.written: list[Record] = []

    @property
    def owner_path(self) -> Path:
        return self.path.parent / self.OWNER_FILE

    # ------------------------------------------------------------ checks and the lock
    def check(self) -> None:
        """Before any work: the records file, if there, is a regular file that can be
        appended to (the same opening :meth:`append` uses), and the owner file is a
        readable file or absent (a damaged one is repaired here, or the error says how)."""
        check_writable_file(self.path)
        if self.owner_path.is_dir():
            raise OutputError(f"{self.owner_path} is a folder, not this folder's owner file; "
                              "remove it or choose another --output")
        self.store_id()

    def check_own(self) -> None:
        """Before any work: a folder holding records, none of them this folder's own runs'
        on this machine (the shipped reference ``results/reference/``, a copy of it, records
        copied in from another machine), is read-only to runs: a :class:`UsageError` names a
        fresh ``--output``. ``report`` still re-renders it."""
        if self.own_records(host_description()) or not self.load(warn=False):
            return
        folder = self.path.parent
        why = ("no owner file" if self.store_id() is None else
               "its owner file names a store none of them carries on this machine")
        raise UsageError(
            f"{folder} holds records made elsewhere ({why}: reference results, or a copy of "
            "them), which a run never writes into or passes off as yours; choose a fresh "
            f"--output (e.g. --output mnistbench-results), or `python -m mnistbench report "
            f"--output {folder}` to re-render them")

    @contextlib.contextmanager
    def writer(self, wait=False, say=None):
        """Hold the folder's lock while the block runs: one writer per folder. The lock
        goes with the process (a killed run leaves no stale lock). Held by another run:
        ``wait`` queues behind it, otherwise :class:`FolderInUseError` names that run."""
        from filelock import FileLock, Timeout  # noqa: PLC0415 - only for a run

        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / self.LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            holder = self._holder()
            if not wait:
                raise FolderInUseError(
                    f"{folder} is in use by another run ({holder}); wait for it to end, pass "
                    "--wait to queue behind it, or choose another --output") from None
            if say:
                say(f"waiting for the other run on {folder} ({holder}) to end...")
            lock.acquire()
        holder_path = folder / self.HOLDER_FILE
        try:
            _write_atomically(holder_path, json.dumps({
                "pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n", replace=True)
            yield self
        finally:
            with contextlib.suppress(OSError):
                holder_path.unlink()
            lock.release()

    def _holder(self) -> str:
        try:
            h = json.loads((self.path.parent / self.HOLDER_FILE).read_text())
            return f"pid {h['pid']} on {h['host']}, started {h['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "pid and start time not known yet"

    # ------------------------------------------------------------ ownership
    def store_id(self, create=False):
        """This folder's store id (None if no run claimed it; ``create`` claims it).

        The owner file is made atomically, so two first appends agree on one id. A
        damaged one (torn, empty, not JSON) is repaired from the store id the folder's
        records carry; when they carry several, an :class:`OutputError` says how to
        choose, and nothing is disowned.
        """
        try:
            text = self.owner_path.read_text()
        except FileNotFoundError:
            text = None
        except IsADirectoryError:
            raise OutputError(f"{self.owner_path} is a folder, not this folder's owner file; "
                              "remove it or choose another --output") from None
        except (OSError, UnicodeDecodeError):
            text = ""
        if text is not None:
            store_id = _owner_id(text)
            if store_id is None:
                store_id = self._repair_owner()
            if store_id is not None or not create:
                return store_id
            # damaged, and no record of this folder's own to repair it from: claim anew
            return self._claim(replace=True)
        return self._claim(replace=False) if create else None

    def _claim(self, replace):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        store_id = uuid.uuid4().hex[:16]
        if _write_atomically(self.owner_path, _owner_text(store_id), replace=replace):
            return store_id
        return self.store_id()  # another process claimed it first: its id is ours

    def _repair_owner(self):
        ids = Counter(r.store for r in self.load(warn=False)
                      if isinstance(r.store, str) and r.host == host_description())
        if not ids:
            return None  # nothing of this folder's own to lose: a new claim starts afresh
        if len(ids) > 1:
            shown = ", ".join(f"{k} ({n} records)" for k, n in ids.most_common())
            best = ids.most_common(1)[0][0]
            raise OutputError(
                f"{self.owner_path} is damaged and this folder's records carry several store "
                f"ids: {shown}; write the one of this folder's own runs into it, e.g. "
                f"""echo '{{"store_id": "{best}"}}' > {self.owner_path}""")
        (store_id,) = ids
        _write_atomically(self.owner_path, _owner_text(store_id), replace=True)
        warnings.warn(f"{self.owner_path} was damaged; repaired from the store id its "
                      f"{ids[store_id]} record(s) carry ({store_id})", stacklevel=3)
        return store_id

    # ------------------------------------------------------------ records
    def append(self, record) -> Record:
        """Append one record (a :class:`Record` or its JSON object), stamped with this
        folder's store id and an id of its own (what a run entry names it by); returns
        the record as written, also kept in :attr:`written` for the run's entry."""
        record = (record if isinstance(record, Record) else Record.from_dict(record)).to_dict()
        record = {**record, "id": record.get("id") or uuid.uuid4().hex[:16],
                  "store": self.store_id(create=True)}
        _append_line(self.path, json.dumps(record, default=_json_default))
        written = Record.from_dict(record)
        self.written.append(written)
        return written

    def load(self, warn=True) -> list[Record]:
        """Every record in the file, in order; skipped lines are warned about once."""
        if not self.path.exists():
            return []
        records, bad = [], []
        with os.fdopen(open_regular_file(self.path, os.O_RDONLY), "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                obj = parse_record(raw)
                if isinstance(obj, Record):
                    records.append(obj)
                else:
                    bad.append((number, obj))
        if bad and warn and bad != self._skipped:
            self._skipped = bad
            shown = ", ".join(str(n) for n, _ in bad[:10]) + (" ..." if len(bad) > 10 else "")
            why = "; ".join(f"line {n}: {why}" for n, why in bad[:3]) + (
                "; ..." if len(bad) > 3 else "")
            warnings.warn(
                f"{self.path}: skipped {len(bad)} line(s) that are not records (line {shown}): "
                f"an interrupted write or an edited file ({why}); their units are run again",
                stacklevel=2)
        return records

    def own_records(self, host=None) -> list[Record]:
        """Records of this folder's own store (and, with ``host``, made on that machine)."""
        store_id = self.store_id()
        return [r for r in self.load() if store_id is not None and r.store == store_id
                and (host is None or r.host == host)]

    def reportable(self) -> list[Record]:
        """The records a report shows: the folder's own once a run has claimed it, else
        all of them (a folder of reference results)."""
        return self.own_records() if self.store_id() else self.load()


# --------------------------------------------------------------------------- runs
RUNS_FILE = "runs.jsonl"
#: What a run did with each planned unit.
USES = ("computed", "reused", "failed", "timeout", "not run")


class RunLog:
    """The run entries of one results folder (``runs.jsonl``)."""

    def __init__(self, folder):
        self.path = Path(folder) / RUNS_FILE

    def append(self, entry: dict) -> None:
        _append_line(self.path, json.dumps(entry, default=_json_default))

    def load(self) -> list[dict]:
        """Every readable entry, oldest first by id; lines that are not entries are
        skipped with one warning."""
        if not self.path.exists():
            return []
        entries, bad = {}, []
        with os.fdopen(open_regular_file(self.path, os.O_RDONLY), "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except ValueError:
                    bad.append(number)
                    continue
                if not (isinstance(entry, dict) and isinstance(entry.get("run"), str)
                        and isinstance(entry.get("units"), list)):
                    bad.append(number)
                    continue
                entries[entry["run"]] = entry
        if bad:
            warnings.warn(f"{self.path}: skipped {len(bad)} line(s) that are not run entries "
                          f"(line {', '.join(map(str, bad[:10]))})", stacklevel=2)
        return [entries[k] for k in sorted(entries)]

    def choose(self, run_id=None, preset=None, seed=None, kind=None) -> dict:
        """The newest run, or the one ``run_id`` names (its full id or a unique start of
        it), or the newest of ``preset``/``seed`` (and ``kind``); a :class:`ValueError`
        lists the runs."""
        runs = self.load()
        chosen = [e for e in runs
                  if (run_id is None or e["run"] == run_id or e["run"].startswith(run_id))
                  and (preset is None or e.get("preset") == preset)
                  and (seed is None or e.get("seed") == seed)
                  and (kind is None or run_id is not None or e.get("kind") == kind)]
        exact = [e for e in chosen if e["run"] == run_id]
        chosen = exact or chosen
        if run_id is not None and len(chosen) > 1:
            raise ValueError(f"--run {run_id} starts {len(chosen)} run ids; give more of it. "
                             f"This folder holds: {self.listing(runs)}")
        if not chosen:
            asked = " and ".join(x for x in (run_id and f"run {run_id!r}",
                                             preset and f"preset {preset!r}",
                                             seed is not None and f"seed {seed}") if x)
            raise ValueError(f"no run with {asked}; this folder holds: "
                             f"{self.listing(runs) or 'no run'}")
        return chosen[-1]

    @staticmethod
    def listing(runs) -> str:
        return "; ".join(run_summary(e) for e in runs)


def run_summary(entry: dict) -> str:
    """One line about a run: id, kind, preset, seed, units, how it ended."""
    uses = [u.get("used") for u in entry["units"]]
    counts = ", ".join(f"{uses.count(k)} {k}" for k in USES if uses.count(k))
    return (f"{entry['run']} ({entry.get('kind', 'run')}, preset {entry.get('preset')}, seed "
            f"{entry.get('seed')}, {len(uses)} units: {counts or 'none'}; "
            f"{entry.get('status', 'unknown')})")


def run_records(entry: dict, records) -> tuple[list[Record], list[tuple]]:
    """The records of ``entry``'s units, in plan order, and the keys of units it has no
    record for (not run, or a record no longer in the store)."""
    by_ref = {}
    for r in records:
        by_ref.setdefault(r.ref, r)
    found, missing = [], []
    for unit in entry["units"]:
        record = by_ref.get(unit.get("record")) if unit.get("record") else None
        if record is None:
            missing.append(tuple(unit["key"]))
        else:
            found.append(record)
    return found, missing


def _append_line(path: Path, line: str) -> None:
    """Append one JSON line with one ``write``, fsync'd; a torn last line (a kill in the
    middle of a write) is closed with a newline first, so it never swallows this one."""
    data = (line + "\n").encode()
    fd = open_regular_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    except OSError as exc:  # a full disk, say: name the file; what it holds is kept
        raise OutputError(f"{path}: cannot append to it ({exc.strerror or exc}); free space "
                          "and run the same command again: every unit recorded so far is "
                          "kept") from None
    finally:
        os.close(fd)


def _owner_text(store_id) -> str:
    return json.dumps({
        "store_id": store_id, "host": host_description(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "note": "written by mnistbench: records stamped with this id are this folder's own "
                "and may be resumed; do not copy this file with the records",
    }, indent=1) + "\n"


def _owner_id(text):
    try:
        owner = json.loads(text)
    except ValueError:
        return None
    store_id = owner.get("store_id") if isinstance(owner, dict) else None
    return store_id if isinstance(store_id, str) and store_id else None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)
