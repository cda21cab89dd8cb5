"""One way to write a table for reports: Markdown, CSV and LaTeX, each headed by the same
lines (preset, versions, hardware, notes) in its own comment syntax."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["write_table_files"]


def write_table_files(stem: Path, header, shown: pd.DataFrame, data: pd.DataFrame, caption,
                      label) -> list[Path]:
    """``stem.md`` and ``stem.tex`` of ``shown`` (cells already formatted, kept as they are),
    ``stem.csv`` of ``data`` (the numbers); every file starts with ``header``'s lines."""
    stem = Path(stem)
    md, csv, tex = (stem.with_suffix(s) for s in (".md", ".csv", ".tex"))
    md.write_text("\n".join(f"<!-- {h} -->" for h in header) + "\n\n"
                  + shown.to_markdown(index=False, disable_numparse=True) + "\n")
    with open(csv, "w") as fh:
        fh.write("".join(f"# {h}\n" for h in header))
        data.to_csv(fh, index=False)
    tex.write_text("".join(f"% {h}\n" for h in header) + shown.to_latex(
        index=False, caption=caption, label=label, escape=True))
    return [md, csv, tex]
