"""The package's messages go through :mod:`logging`, on the ``"mnistbench"`` logger.

A program that configures logging decides where they go. When nobody has (a plain
script, the CLI), :func:`progress_logging` shows them on stderr for the length of a
run, through ``tqdm.write`` so that a progress bar is not drawn over.
"""

from __future__ import annotations

import contextlib
import logging
import sys

logger = logging.getLogger("mnistbench")

__all__ = ["log_progress", "logger", "progress_logging"]


def log_progress(msg, verbose):
    """A progress line of a call made with ``verbose=True`` (a loader, say), as INFO."""
    if verbose:
        logger.info(msg)


class _TqdmHandler(logging.Handler):
    def emit(self, record):
        try:
            from tqdm import tqdm  # noqa: PLC0415 - only when a message is shown

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


@contextlib.contextmanager
def progress_logging(quiet=False, force=False):
    """Show the package's INFO messages on stderr during the block, unless ``quiet`` or
    the program already configured logging (a handler on this logger or the root).

    ``force`` (the CLI, an application) shows them even under a configured root logger.
    """
    configured = logger.handlers or (logging.getLogger().handlers and not force)
    if quiet or configured:
        yield
        return
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
