"""Helpers of the tests that drive the command line in this process: its exit code and
output, and the one error line a mistake must give."""

import hashlib
import re
from pathlib import Path

from mnistbench.cli import main


def cli(capsys, *argv):
    """``main(argv)`` in this process: ``(exit code, stdout, stderr)``."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err, pattern):
    """Exactly one ``error:`` line, matching ``pattern``, and no traceback."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]


def snapshot(folder) -> dict:
    """Every path below ``folder``, files with the SHA-256 of their bytes: what a refused
    command must leave exactly as it was (no file changed, no file or folder made)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else "folder")
            for p in sorted(Path(folder).rglob("*"))}
