"""README's results section, written from the reference run's generated files.

Reads ``results/reference/results_all.csv`` (one row per dataset and model) and each
``results/reference/classic_vs_deep_<dataset>.md``, and writes, between README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers, a table of test accuracy
and significance group per model and dataset, then each dataset's classic-vs-deep
sentence. Nothing in that section is typed by hand. Run::

    python tools/readme_results.py            # rewrite README's section
    python tools/readme_results.py --check    # exit 1 when README differs from results/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
#: Column order: the datasets of the main job first.
ORDER = ["mnist", "fashion-mnist", "digits"]


def render(results: Path) -> str:
    """The section's Markdown, from the files under ``results``."""
    df = pd.read_csv(results / "results_all.csv")
    ok = df[df["status"] == "ok"]
    datasets = sorted(ok["dataset"].unique(), key=lambda d: (d not in ORDER,
                                                              ORDER.index(d) if d in ORDER else 0, d))
    cells = {(r.dataset, r.model): f"{100 * r.test_accuracy:.2f} ({r.group})"
             for r in ok.itertuples()}
    first = ok[ok["dataset"] == datasets[0]].sort_values("test_accuracy", ascending=False)
    models = list(first["model"]) + sorted(set(ok["model"]) - set(first["model"]))
    lines = ["| model | " + " | ".join(datasets) + " |",
             "|---|" + "---:|" * len(datasets)]
    lines += [f"| {m} | " + " | ".join(cells.get((d, m), "") for d in datasets) + " |"
              for m in models]
    sentences = []
    for dataset in datasets:
        path = results / f"classic_vs_deep_{dataset}.md"
        if path.exists():
            text = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("<!--")]
            sentences += [f"- {' '.join(text)}"]
    return "\n".join(lines) + ("\n\n" + "\n".join(sentences) if sentences else "") + "\n"


def with_section(readme: str, section: str) -> str:
    """``readme`` with the text between the markers replaced by ``section``."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare: exit 1 when README's section differs")
    parser.add_argument("--results", type=Path, default=ROOT / "results" / "reference")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    readme = args.readme.read_text()
    updated = with_section(readme, render(args.results))
    if args.check:
        if updated != readme:
            print(f"{args.readme}: the results section differs from {args.results}; run "
                  "python tools/readme_results.py", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
