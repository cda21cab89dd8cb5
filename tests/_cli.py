"""Helpers of the tests that drive the command line in this process: its exit code and
output, and the one error line a mistake must give."""

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


def listing(folder) -> list:
    """Every path below ``folder``: what a refused command must leave as it was."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))
