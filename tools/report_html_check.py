"""Open report.html in a real headless browser: every image loads, nothing leaves the file.

Uses Debian's Chromium (``apt-get install chromium``) driven by Playwright
(``pip install playwright``; no browser download: the system Chromium is launched).
Records every request the page makes, the console errors, each image's decoded size and
whether the page is wider than a 1280-pixel window (a wide table scrolls in its own box);
writes the verdict with the machine beside the page (``report_html_check.json``)::

    python -m mnistbench report --output results/reference  # writes results/reference/report.html
    python tools/report_html_check.py results/reference/report.html
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# the machine description the benchmarks write (benchmarks/_common.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import machine, now

CHROMIUM = "/usr/bin/chromium"


def check(path: Path, executable=CHROMIUM, allowed=None) -> dict:
    """Open ``path``; ``allowed``: a URL prefix its requests may also load (a docs build's
    own folder), besides the file itself and data: URLs."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    requests, console_errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.goto(url, wait_until="load")
        images = page.evaluate("""() => Array.from(document.images).map(i => ({
            alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))""")
        title = page.title()
        page.set_viewport_size({"width": 1280, "height": 900})
        overflow = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
            window: window.innerWidth,
            tables: Array.from(document.querySelectorAll('table')).filter(
                t => t.getBoundingClientRect().right > window.innerWidth + 1
                     && !t.closest('.wide')).length})""")
        browser.close()
    outside = [u for u in requests if u != url and not u.startswith("data:")
               and not (allowed and u.startswith(allowed))]
    broken = [i["alt"] for i in images if not (i["complete"] and i["width"] > 0)]
    return {"file": str(path), "bytes": path.stat().st_size, "title": title,
            "images": len(images), "broken_images": broken, "requests_outside_the_file": outside,
            "console_errors": console_errors,
            "page_width_px": overflow["page"], "window_width_px": overflow["window"],
            "tables_past_the_page": overflow["tables"],
            "ok": (bool(images) and not broken and not outside and not console_errors
                   and overflow["page"] <= overflow["window"] and not overflow["tables"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report.html written by mnistbench")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    result = {"benchmark": "report_html_check", "date": now(), "machine": machine(),
              **check(args.report, args.chromium)}
    # beside the page it checked: results/reference/ for the reference run's report
    args.report.with_name("report_html_check.json").write_text(json.dumps(result, indent=1)
                                                                + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
