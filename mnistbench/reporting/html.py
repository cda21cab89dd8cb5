"""One self-contained ``report.html``: protocol, machine, tables, tests, figures, failures.

Everything is inside the file (figures as embedded PNG data, no scripts, no style sheet
or font from elsewhere), so it can be attached to a report or opened offline.
Built from records alone, like every other output of :mod:`mnistbench.reporting.report`.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from mnistbench.reporting.tables import write_text

__all__ = ["write_html_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; margin: 0.5em 0; } .note { color: #555; font-size: 0.9em; }
.wide { overflow-x: auto; max-width: 100%; } .verdict { font-size: 1.05em; }
dt { font-weight: 600; } dd { margin: 0 0 0.4em 1.5em; }
"""


def _esc(text) -> str:
    return html.escape(str(text))


def _protocol(records, preset, seed) -> list[tuple[str, str]]:
    """What was run, read from the records themselves."""
    items = [("preset", f"{preset}, seed {seed}")]
    for dataset in sorted({r.dataset for r in records}):
        mine = [r for r in records if r.dataset == dataset and r.status == "ok"]
        splits = {r.split for r in mine if not r.split.is_test}
        repeats = len({s.repeat for s in splits})
        fold = next((r for r in mine if not r.split.is_test), None)
        test = next((r for r in mine if r.split.is_test), None)
        parts = []
        if fold:
            times = f" x {repeats} repeats" if repeats > 1 else ""
            parts.append(f"{len(splits) // repeats}-fold stratified CV{times} (each fold: "
                         f"{fold.n_train:,} training, {fold.n_test:,} validation images)")
        if test:
            parts.append(f"final fit on {test.n_train:,} training images, scored on "
                         f"{test.n_test:,} held-out test images")
        items.append((dataset, "; ".join(parts) or "no finished unit"))
    return items


def _machine(records) -> list[tuple[str, str]]:
    hosts = sorted({(r.host or "") for r in records if r.host})
    devices = sorted({(r.device or "") for r in records if r.device})
    versions = next((r.versions for r in records if r.versions), {})
    gpus = [d for d in devices if d.startswith(("gpu", "cuda"))]
    return [
        ("CPU", "; ".join(hosts) or "unknown"),
        ("GPU", ", ".join(gpus) or "none used"),
        ("devices used", ", ".join(devices) or "cpu"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]


def _dl(items) -> str:
    return "<dl>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in items) + "</dl>\n"


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(path.stem)}" src="data:image/png;base64,{data}">\n'


def _table(frame) -> str:
    """A table in a box of the page's width: a wide one scrolls inside it, the page not."""
    return "<div class='wide'>" + frame.to_html(index=False, escape=True) + "</div>\n"


def write_html_report(sections, records, out_dir, preset, seed, header, problems, note,
                      comparison=None, verdicts=None) -> Path:
    """Write ``out_dir/report.html``.

    ``sections``: per dataset ``(name, display table, pairwise table, notes, PNG paths,
    extras)``, extras being ``[(title, note, table)]`` (tuned vs default, robustness);
    ``problems``: ``[(dataset, model, status, error)]`` of the models that did not finish;
    ``note``: how to read the tables' intervals and groups; ``comparison``: ``(notes,
    table)`` of this run against a reference run (``report --reference``); ``verdicts``:
    ``{dataset: sentence}``, the classic-vs-deep answers, shown first.
    """
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_esc(header[0])}</title><style>{_STYLE}</style></head><body>\n",
        f"<h1>{_esc(header[0])}</h1>\n",
        "".join(f"<p class='note'>{_esc(h)}</p>\n" for h in header[1:]),
    ]
    if verdicts:  # the answer first, then how it was reached
        parts += ["<h2>Classic vs deep</h2>\n"] + [
            f"<p class='verdict'><b>{_esc(d)}</b>: {_esc(v)}</p>\n" for d, v in verdicts.items()]
    parts += [
        "<h2>Protocol</h2>\n", _dl(_protocol(records, preset, seed)),
        "<h2>Machine</h2>\n", _dl(_machine(records)),
    ]
    if comparison is not None:
        notes, table = comparison
        parts += ["<h2>Same answers as the reference?</h2>\n",
                  "".join(f"<p class='note'>{_esc(n)}</p>\n" for n in notes),
                  _table(table)]
    for dataset, table, pairs, notes, pngs, extras in sections:
        parts += [f"<h2>{_esc(dataset)}</h2>\n", f"<p class='note'>{_esc(note)}</p>\n",
                  _table(table)]
        for title, extra_note, extra in extras:  # tuned vs default, robustness
            parts += [f"<h3>{_esc(title)}</h3>\n", f"<p class='note'>{_esc(extra_note)}</p>\n",
                      _table(extra)]
        if not pairs.empty:
            parts += ["<h3>Pairwise tests (Holm-corrected)</h3>\n",
                      "".join(f"<p class='note'>{_esc(n)}</p>\n" for n in notes),
                      _table(pairs)]
        if pngs:
            parts += ["<h3>Figures</h3>\n"] + [_figure(Path(p)) for p in sorted(pngs)]
    parts.append("<h2>Failures and timeouts</h2>\n")
    if not problems:
        parts.append("<p>None: every unit finished.</p>\n")
    else:
        parts.append("<ul>" + "".join(
            f"<li>{_esc(d)} / {_esc(m)}: {_esc(status)}: {_esc(error)}</li>"
            for d, m, status, error in problems) + "</ul>\n")
    parts.append("</body></html>\n")
    path = Path(out_dir) / "report.html"
    write_text(path, "".join(parts))
    return path
