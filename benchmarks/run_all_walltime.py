"""Wall time of ``python -m mnistbench run-all`` per preset, as a user runs it.

Each preset runs as a fresh process into an empty output folder (nothing reused),
MNIST already cached; the wall time covers start-up, every unit, tables and
figures. One line per run is appended to ``results/bench/run_all_walltime.jsonl``
and the table ``run_all_walltime.md`` is re-rendered. The robustness share (target: at
most 3 min on the default preset) is measured inside the same run: the corrupted test sets'
generation (the cache of corrupted sets is emptied first, so a run pays it as a first run
does) plus each final fit's scoring under the corruptions (its record's seconds).
``--code DIR`` also runs the package of another checkout (``git worktree add DIR REV``)
with the same Python, right after this one's, for a side-by-side ratio (a new code against the
old one). ``--keep DIR`` keeps this checkout's output (records,
tables, figures) in ``DIR/<preset>``, so a timed run can also be a reference run. Every
run's ``records.jsonl`` (per-unit fit, predict and robustness seconds, test predictions) is
kept in ``results/bench/run_all_walltime/`` and named in its line, so the split of the time
stays visible and ``benchmarks/same_answers.py`` can compare the answers of a pair. Without
``--n-jobs`` each code runs with its own default workers, as a user's command would. Run::

    python benchmarks/run.py run_all_walltime [--presets quick default] [--n-jobs N] [--backend B]
                                          [--code DIR] [--keep DIR] [--no-robustness]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    BENCH,
    RESULTS,
    append_jsonl,
    machine,
    markdown_table,
    now,
    read_jsonl,
    write_page,
)

OUT = BENCH / "run_all_walltime.jsonl"
RUNS = BENCH / "run_all_walltime"


def render():
    lines = [
        "# run-all wall time per preset",
        "",
        "Written by `benchmarks/run_all_walltime.py`: `python -m mnistbench run-all --preset P` "
        "in a fresh process, empty output folder, MNIST cached.",
        "",
    ]
    table = [{
        "preset": r["preset"], "backend": r["backend"],
        "workers": r["n_jobs"] if r["n_jobs"] is not None else "default",
        "units": r["units"], "wall time": f"{r['wall_seconds'] / 60:.1f} min",
        "all ok": "yes" if r["all_ok"] else "no",
        # runs before the CNN's precision parameter: float32 on the CPU
        "CNN device": ", ".join(r.get("cnn_devices", ["cpu"])),
        "robustness": (f"{r['robustness_seconds'] / 60:.1f} min" if "robustness_seconds" in r
                       else "off (--no-robustness)" if r.get("no_robustness")
                       else "not scored"),
        "code": r.get("code", ""),
        "vs the codes timed after it": _ratio(r, rows),
        "machine": r["machine"]["host"], "when": r["timestamp"][:16],
    } for rows in [read_jsonl(OUT)] for r in rows]
    write_page("run_all_walltime", "\n".join(lines) + "\n" + markdown_table(table) + "\n")


def _ratio(row, rows):
    """This checkout's wall time (the first run of an invocation, ``pair``) over that of
    each other code timed right after it."""
    pair = [r for r in rows if row.get("pair") and r.get("pair") == row["pair"]
            and r["preset"] == row["preset"]]
    if not pair or pair[0] is not row:
        return ""
    return "; ".join(f"{row['wall_seconds'] / r['wall_seconds']:.2f}x of {r.get('code', '?')}"
                     for r in pair[1:])


def _revision(folder):
    return subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()


def _run(preset, args, code, pair):
    """One timed run-all of ``preset``: this checkout's package, or the one in ``code``."""
    from mnistbench.data.datasets import cache_dir

    here = Path(__file__).resolve().parent.parent
    folder = Path(code).resolve() if code else here
    revision = _revision(folder)
    env = dict(os.environ, PYTHONPATH=str(folder))  # the editable install comes after it
    shutil.rmtree(cache_dir() / "corrupted", ignore_errors=True)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "mnistbench", "run-all", "--preset", preset,
             "--output", out, "--backend", args.backend,
             *(["--n-jobs", str(args.n_jobs)] if args.n_jobs else []),
             *(["--no-robustness"] if args.no_robustness else [])],
            capture_output=True, text=True, cwd=folder, env=env)
        wall = time.perf_counter() - t0
        records = [json.loads(x) for x in open(Path(out) / "records.jsonl")]
        RUNS.mkdir(parents=True, exist_ok=True)
        kept = RUNS / f"{pair}-{preset}-{revision}.jsonl"
        shutil.copyfile(Path(out) / "records.jsonl", kept)
        if args.keep and not code:
            shutil.copytree(out, Path(args.keep) / preset, dirs_exist_ok=True)
    generated = [float(x) for x in re.findall(r"generated in ([0-9.]+) s", run.stderr)]
    scored = [r["robustness"]["seconds"] for r in records
              if "seconds" in r.get("robustness", {})]
    append_jsonl(OUT, {
        "preset": preset, "backend": args.backend, "n_jobs": args.n_jobs,
        "units": len(records), "wall_seconds": round(wall, 1),
        **({"no_robustness": True} if args.no_robustness else {}),
        "all_ok": run.returncode == 0 and all(r["status"] == "ok" for r in records),
        "cnn_devices": sorted({r.get("device", "?") for r in records
                               if r["model"].startswith("cnn")}),
        "code": revision, "machine": machine(), "timestamp": now(), "pair": pair,
        "records": str(kept.relative_to(RESULTS)),
        "unit_seconds": round(sum(r.get("fit_seconds", 0) + r.get("predict_seconds", 0)
                                  for r in records), 1),
        **({"robustness_seconds": round(sum(generated) + sum(scored), 1),
            "robustness_generation_seconds": sum(generated)} if scored else {}),
    })
    print(f"{preset} at {revision}: {wall / 60:.1f} min, exit {run.returncode}",
          file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=["quick", "default"])
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="--n-jobs for run-all (default: each code's own default)")
    parser.add_argument("--backend", default="local")
    parser.add_argument("--code", nargs="*", default=[], metavar="DIR",
                        help="also time the package in these checkouts, after this one")
    parser.add_argument("--no-robustness", action="store_true",
                        help="pass --no-robustness to run-all (clean accuracy only)")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep this checkout's run-all output in DIR/<preset>")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        subprocess.run([sys.executable, "-m", "mnistbench", "fetch-data", "-q"], check=True)
        pair = now().replace(":", "")[:17]  # one id for the runs of this invocation
        for preset in args.presets:
            for code in [None, *args.code]:
                _run(preset, args, code, pair)
                render()
    render()
