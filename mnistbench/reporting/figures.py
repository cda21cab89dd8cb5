"""Saving and making matplotlib figures the same way everywhere: ``Figure`` objects, never
pyplot, so a user's backend and open figures are left alone; PNG and SVG side by side."""

from __future__ import annotations

from mnistbench.reporting.tables import out_file

__all__ = ["new_figure", "save_figure"]


def save_figure(fig, out_dir, stem):
    # One layout pass for both files: bbox_inches="tight" would draw each file twice.
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = out_file(out_dir, stem, suffix=ext)
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


def new_figure(*grid, figsize, **kwargs):
    # Figure objects, not pyplot: no backend is chosen or switched (a notebook user's
    # stays as it is) and nothing is left open in pyplot's figure manager.
    from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only for figures

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kwargs)
