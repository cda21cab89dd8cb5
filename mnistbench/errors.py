"""The one base class of the errors mnistbench raises on purpose.

Every such error's message names the problem and the fix in one line. The
command line catches :class:`MnistbenchError` once and prints ``error: ...``
without a traceback; Python users can catch it the same way. Each subclass also
derives from the built-in class it replaces (``ValueError``, ``OSError``...), so
existing ``except ValueError`` code keeps working.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["DataUnavailableError", "DataVerificationError", "MnistbenchError", "OutputError",
           "UsageError", "check_writable_dir", "check_writable_file", "open_regular_file"]


class MnistbenchError(Exception):
    """Base class of mnistbench's own errors (clear one-line messages)."""


class UsageError(MnistbenchError, ValueError):
    """A bad argument or option: the message says which values are allowed."""


class OutputError(MnistbenchError, OSError):
    """An output file or folder that cannot be written (found before any work)."""


def user_path(path) -> str:
    """The one normaliser of a path a user gives (command line or Python): ``~`` expanded
    (also when it reached us quoted), as text; every check and every write then uses this
    same path, so a folder checked is the folder written."""
    return os.path.expanduser(os.fspath(path))


def _existing_ancestor(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _probe_dir(folder: Path, shown: Path, option: str) -> None:
    """Create and remove a scratch file in ``folder``: the only test that also holds
    for root, read-only mounts and ACLs."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mnistbench-write-test-", dir=folder)
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {folder} ({exc.strerror or exc}); "
                          f"choose another {option}") from None
    os.close(fd)
    os.unlink(tmp)


def check_writable_dir(path, option="--output") -> Path:
    """Fail now, not after hours of work, if ``path`` cannot be (made into) a folder we
    can write in. Nothing is created."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file, not a folder; choose another {option}, a folder "
                          f"(e.g. {path.with_suffix('')}-results)")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise OutputError(f"{path}: {base} is a file, so no folder can be made there; choose "
                          f"another {option}")
    _probe_dir(base, path, option)
    return path


def check_writable_file(path, option="--output") -> Path:
    """Fail now if the file ``path`` could not be written or appended to later."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file; choose another {option}")
    check_writable_dir(path.parent if str(path.parent) else Path("."), option)
    if path.exists() or path.is_symlink():
        try:
            os.close(open_regular_file(path, os.O_WRONLY | os.O_APPEND, option))
        except FileNotFoundError:
            raise OutputError(f"{path} is a broken symbolic link (to {os.path.realpath(path)}); "
                              f"remove it or choose another {option}") from None
        except OSError as exc:
            if isinstance(exc, MnistbenchError):
                raise
            raise OutputError(f"{path}: cannot be appended to ({exc.strerror or exc}); make it "
                              f"writable (chmod u+w {path}) or choose another {option}") from None
    return path


def open_regular_file(path, flags: int, option="--output") -> int:
    """``os.open`` that refuses anything but a regular file (a FIFO, a device, a folder,
    or a symbolic link to one) with an :class:`OutputError`, and never blocks on it.
    The up-front checks and the later writes open files through this one function."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o644)
    except IsADirectoryError:
        raise OutputError(f"{path} is a folder, not a file; remove it or choose another "
                          f"{option}") from None
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # ENXIO: a FIFO or socket opened for writing alone
            raise
        fd = None
    mode = os.stat(path).st_mode if fd is None else os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        if fd is not None:
            os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
        target = f" (it leads to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise OutputError(f"{path} is {kind}{target}, not a regular file; remove it or choose "
                          f"another {option}")
    os.set_blocking(fd, True)
    return fd


class DataUnavailableError(MnistbenchError, RuntimeError):
    """No source could provide a verified copy of a dataset."""


class DataVerificationError(MnistbenchError, ValueError):
    """Loaded data does not match the canonical dataset."""


class AmbiguousDataError(UsageError, DataVerificationError):
    """A user's data that would be read in a way they did not mean (two class folders of
    one label, NaN or fractional labels, a declared image shape its arrays do not have):
    refused before any work, as a usage error (exit 2)."""
