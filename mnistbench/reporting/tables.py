"""The one writer of report tables: Markdown, CSV, LaTeX and HTML of the same table.

The Markdown, LaTeX and HTML files start with the same lines (preset, versions, hardware,
notes), each in its own syntax. The CSV is plain, one header row then the data, so
``pandas.read_csv`` and spreadsheets read it as it is; its provenance is in the Markdown
file beside it (and in report.html).
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import pandas as pd

from mnistbench.data.registry import is_user_dataset

__all__ = ["slug", "write_table_files"]


def slug(dataset: str) -> str:
    """A file-name-safe form of a dataset name, one per name: a folder dataset keeps its
    base name and adds a hash of its whole path ("folder:/x/my digits" ->
    "folder-my_digits-3f2a9c"), so two folders with the same base name never overwrite
    each other's tables."""
    if is_user_dataset(dataset):
        kind, _, path = dataset.partition(":")
        path = path.rstrip("/\\")
        tag = hashlib.sha256(path.encode()).hexdigest()[:6]
        dataset = f"{kind}-{Path(path).name or 'root'}-{tag}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset)


def write_table_files(stem: Path, header, shown: pd.DataFrame, data: pd.DataFrame,
                      caption=None, label=None, *, intro=(), formats=("md", "csv", "tex"),
                      numparse=False) -> list[Path]:
    """Write ``stem.<format>`` for each of ``formats`` and return the paths.

    ``shown``: the display table (md, tex, html; cells kept as formatted unless
    ``numparse``, which lets the Markdown writer align and reformat numbers); ``data``: the
    numbers (csv). ``header``: provenance lines, as comments at the top of md and tex and
    as paragraphs of html; ``intro``: sentences shown above the md table, with the header.
    """
    stem = Path(stem)
    caption = caption if caption is not None else (header[0] if header else stem.name)
    writers = {
        "md": lambda: ("\n".join(f"<!-- {h} -->" for h in header) + "\n\n"
                       + "".join(f"{line}\n\n" for line in intro)
                       + shown.to_markdown(index=False, disable_numparse=not numparse) + "\n"),
        "csv": lambda: data.to_csv(index=False),
        "tex": lambda: "".join(f"% {h}\n" for h in [*header, *intro]) + shown.to_latex(
            index=False, caption=caption, label=label or f"tab:{stem.name}", escape=True),
        "html": lambda: ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                         + html.escape(caption) + "</title></head><body>\n"
                         + "".join(f"<p>{html.escape(h)}</p>\n" for h in [*header, *intro])
                         + shown.to_html(index=False, escape=True) + "\n</body></html>\n"),
    }
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        path.write_text(writers[fmt]())
        written.append(path)
    return written
