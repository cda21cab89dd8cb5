"""Wall time of README's test command, this checkout against another, back to back.

Each checkout runs the pytest part of its own README's test command (the part after the
last ``&&`` of the second code block: ``.venv/bin/python -m pytest ...``) with its own
``.venv`` (set it up first with the first part of that command), one after the other on
the same machine, nothing else running. One JSON line per run goes to
``results/bench/test_suite_walltime.jsonl`` (wall seconds, pytest's summary line, the
command, the commit, the machine); the Markdown page shows every pair's ratio. Run::

    python benchmarks/run.py test_suite_walltime --code /path/to/old/checkout [--order new-old]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

from _common import BENCH, append_jsonl, machine, markdown_table, now, read_jsonl, write_page

OUT = BENCH / "test_suite_walltime.jsonl"
HERE = Path(__file__).resolve().parent.parent


def readme_test_command(checkout: Path) -> str:
    """The pytest part of the second code block of ``checkout``'s README."""
    blocks = re.findall(r"```\w*\n(.*?)```", (checkout / "README.md").read_text(), re.DOTALL)
    command = blocks[1].strip().split("&&")[-1].strip()
    if "-m pytest" not in command:
        raise SystemExit(f"{checkout}/README.md: no pytest command in its second code block")
    return command


def _commit(checkout: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                         capture_output=True, text=True)
    return out.stdout.strip()


def time_suite(checkout: Path, pair: str, side: str) -> dict:
    command = readme_test_command(checkout)
    if not (checkout / ".venv" / "bin" / "python").exists():
        raise SystemExit(f"{checkout}: no .venv; run the first part of its README's test "
                         "command there first")
    print(f"{side}: {checkout}: {command}", flush=True)
    t0 = time.perf_counter()
    run = subprocess.run(command, shell=True, cwd=checkout, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = next((line.strip("= ") for line in reversed(run.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", line)), "")
    row = {"pair": pair, "side": side, "code": _commit(checkout), "command": command,
           "wall_seconds": round(wall, 1), "exit_code": run.returncode, "summary": summary,
           "when": now(), **machine()}
    print(f"  {wall / 60:.1f} min, exit {run.returncode}: {summary}", flush=True)
    return row


def render(rows) -> None:
    pairs = {}
    for r in rows:
        pairs.setdefault(r["pair"], {})[r["side"]] = r
    table = []
    for pair, sides in pairs.items():
        new, old = sides.get("new"), sides.get("old")
        for r in (new, old):
            if r is None:
                continue
            ratio = (f"{new['wall_seconds'] / old['wall_seconds']:.2f}x of {old['code']}"
                     if r is new and old else "")
            table.append({"pair": pair, "side": r["side"], "code": r["code"],
                          "command": f"`{r['command'].split('/')[-1]}`",
                          "wall time": f"{r['wall_seconds'] / 60:.1f} min",
                          "new / old": ratio, "exit": r["exit_code"], "pytest": r["summary"],
                          "machine": r["host"], "when": r["when"]})
    text = ("# README's test command: wall time, new code against old, back to back\n\n"
            "Written by `benchmarks/test_suite_walltime.py`: each checkout runs the pytest part "
            "of its own README's test command with its own virtual environment, one right "
            "after the other on the same machine.\n\n" + markdown_table(table) + "\n")
    write_page("test_suite_walltime", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, required=True, help="the other (old) checkout")
    parser.add_argument("--order", choices=["new-old", "old-new"], default="new-old")
    args = parser.parse_args()
    pair = now()
    sides = [("new", HERE), ("old", args.code.resolve())]
    if args.order == "old-new":
        sides.reverse()
    for side, checkout in sides:
        append_jsonl(OUT, time_suite(checkout, pair, side))
    render(read_jsonl(OUT))
