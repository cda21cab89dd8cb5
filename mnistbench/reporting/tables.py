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
import unicodedata
from pathlib import Path

import pandas as pd

from mnistbench.errors import OutputError

__all__ = ["check_file_parts", "escape_md", "file_part", "out_file", "write_table_files",
           "write_text"]


#: Longest name part kept before its hash (file systems allow 255 bytes a name).
MAX_PART = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def file_part(name: str) -> str:
    """The one name-to-file function: a dataset, model or run name as a file-name part.

    NFKC-normalised; characters outside ``[A-Za-z0-9.-]`` become ``-`` (``_`` too: it
    joins the parts of a file name, ``<dataset>_<model>_...``), runs of them one, no
    leading dot, at most :data:`MAX_PART` characters (a longer one keeps its two ends);
    whenever that changed the name (or the name has capitals, which a case-blind file
    system folds), a short hash of the original is added, so two names never share a file: ``"folder:/x/my digits"`` ->
    ``"folder-x-my-digits-<8 hex digits>"``, ``"mnist"`` -> ``"mnist"``.
    """
    text = unicodedata.normalize("NFKC", str(name))
    part = _UNSAFE.sub("-", text).lstrip(".") or "-"
    if len(part) > MAX_PART:  # keep both ends: the kind of name and, for a path, its base name
        part = part[:20] + "--" + part[-(MAX_PART - 22):]
    if part == name and part == part.lower():
        return part
    return f"{part}-{hashlib.sha256(str(name).encode()).hexdigest()[:8]}"


def check_file_parts(names) -> None:
    """Two names, two files: a :class:`ValueError` if two of ``names`` (the datasets and
    models of one report) share a file part, even on a case-blind file system."""
    seen = {}
    for name in dict.fromkeys(names):
        other = seen.setdefault(file_part(name).lower(), name)
        if other != name:
            raise ValueError(f"{other!r} and {name!r} would share the file name part "
                             f"{file_part(name)!r}; rename one of them")


def out_file(out_dir, *parts: str, suffix: str) -> Path:
    """``out_dir/<parts joined by _>.<suffix>``, each part already a :func:`file_part` or
    a fixed word; the path is checked to resolve inside ``out_dir`` (never written
    elsewhere, whatever a name held)."""
    out_dir = Path(out_dir)
    path = out_dir / ("_".join(parts) + "." + suffix)
    if out_dir.resolve() not in path.resolve().parents:
        raise ValueError(f"{path} is not inside {out_dir}: a name reached a file name "
                         "unsanitised; this is a bug in mnistbench")
    return path


def write_text(path: Path, text: str) -> None:
    """Write a report file; a failure (a full disk, a folder made read-only) names the
    file, and the records it was rendered from are untouched."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it ({exc.strerror or exc}); free space or "
                          "fix the folder, then `python -m mnistbench report` renders it "
                          "again from the records, which are kept") from None


def escape_md(text) -> str:
    """A Markdown table cell or sentence: HTML escaped (it is live in Markdown), pipes
    escaped (they split cells), newlines as spaces."""
    return html.escape(one_line(text), quote=False).replace("|", "\\|")


def one_line(text) -> str:
    return " ".join(str(text).splitlines())


def comment_md(line) -> str:
    """One header line as an HTML comment: no newline, no ``-->`` that would end it early."""
    return "<!-- " + re.sub(r"--(?=!?>)", "- -", one_line(line)) + " -->"


def comment_tex(line) -> str:
    """One header line as a LaTeX comment: no newline, which would start a live line."""
    return "% " + one_line(line)


def escape_tex(text) -> str:
    """LaTeX's special characters escaped, newlines as spaces (a caption, a cell)."""
    out = one_line(text).replace("\\", "\\textbackslash{}")
    for ch in "&%$#_{}":
        out = out.replace(ch, "\\" + ch)
    return out.replace("~", "\\textasciitilde{}").replace("^", "\\textasciicircum{}")


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
    cells = shown.map(lambda v: one_line(v) if isinstance(v, str) else v)
    writers = {
        "md": lambda: ("\n".join(comment_md(h) for h in header) + "\n\n"
                       + "".join(f"{escape_md(line)}\n\n" for line in intro)
                       + _md_cells(shown).to_markdown(index=False,
                                                      disable_numparse=not numparse) + "\n"),
        "csv": lambda: data.to_csv(index=False),
        "tex": lambda: "".join(comment_tex(h) + "\n" for h in [*header, *intro]) + cells.to_latex(
            index=False, caption=escape_tex(caption), label=label or f"tab:{stem.name}",
            escape=True),
        "html": lambda: ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                         + html.escape(caption) + "</title></head><body>\n"
                         + "".join(f"<p>{html.escape(h)}</p>\n" for h in [*header, *intro])
                         + shown.to_html(index=False, escape=True) + "\n</body></html>\n"),
    }
    written = []
    for fmt in formats:
        path = out_file(stem.parent, stem.name, suffix=fmt)  # never with_suffix: names hold dots
        write_text(path, writers[fmt]())
        written.append(path)
    return written


def _md_cells(shown: pd.DataFrame) -> pd.DataFrame:
    """The text cells of a Markdown table escaped (numbers stay numbers for alignment)."""
    return shown.apply(lambda col: col.map(lambda v: escape_md(v) if isinstance(v, str) else v))
