"""Open the built docs in a real headless browser: the home page, one API page and one
gallery page; every image decodes, no console error, nothing loaded from outside the build.

Uses Debian's Chromium driven by Playwright, as ``report_html_check.py`` does; writes the
verdict with the machine to ``results/checks/docs_html_check.json``::

    sphinx-build -W -b html docs docs/_build/html
    python tools/docs_html_check.py docs/_build/html
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# the machine description the benchmarks write (benchmarks/_common.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import RESULTS, machine, now
from report_html_check import CHROMIUM, check

PAGES = ["index.html", "generated/mnistbench.KerasCNNClassifier.html",
         "auto_examples/plot_compare_two_models.html"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the HTML build folder")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    allowed = args.build.resolve().as_uri() + "/"
    pages = []
    for name in PAGES:
        page = check(args.build / name, args.chromium, allowed=allowed)
        # a page need not have an image, but the gallery page must show its figures
        page["ok"] = (not page["broken_images"] and not page["requests_outside_the_file"]
                      and not page["console_errors"]
                      and (page["images"] > 0 or "auto_examples" not in name))
        pages.append(page)
    result = {"benchmark": "docs_html_check", "date": now(), "machine": machine(),
              "pages": pages, "ok": all(p["ok"] for p in pages)}
    (RESULTS / "checks" / "docs_html_check.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
