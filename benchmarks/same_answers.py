"""Does a faster code give the same answers? Two run-all record files, row by row.

For each (dataset, model) row of the reference run (the old code) and the new run, from
the same ``run_all_walltime.py`` invocation (its ``pair``), compared by the one
implementation ``mnistbench compare`` uses (:mod:`mnistbench.evaluation.agreement`), and
judged by this benchmark's rules:

* the final fits' test predictions against each other: McNemar's exact test on the paired
  correctness, p >= 0.05;
* the new test accuracy no lower than the reference by more than 0.10 points on MNIST
  (10 of its 10,000 test images) and 2 images on digits (or any other dataset);
* the new CV mean inside the reference row's corrected 95 % interval (Nadeau & Bengio).

Writes ``results/bench/same_answers.{json,md}``. Run::

    python benchmarks/run.py same_answers [--pair ID]           # a pair of run_all_walltime.jsonl
    python benchmarks/run.py same_answers --new A.jsonl --old B.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import BENCH, RESULTS, markdown_table, now, read_jsonl, write_json, write_page

OUT = BENCH / "same_answers.json"
WALLTIME = BENCH / "run_all_walltime.jsonl"
#: Largest drop in test accuracy allowed: a fraction on MNIST, images elsewhere.
MNIST_DROP = 0.0010
IMAGES_DROP = 2


def _default_records(path):
    from mnistbench.harness.store import RecordStore

    return [r for r in RecordStore(Path(path)).load() if r.preset == "default"]


def compare(new_path, old_path) -> list[dict]:
    """The rows of :func:`mnistbench.evaluation.agreement.compare_records` (A: the
    reference code's run, B: the new code's), judged by this benchmark's rules."""
    from mnistbench.evaluation.agreement import compare_records

    result = compare_records(_default_records(old_path), _default_records(new_path))
    out = [{"dataset": d, "model": m, "same": False, "why": "missing in the new run"}
           for d, m in result["only_a"]]
    out += [{"dataset": r["dataset"], "model": r["model"], "same": False, "why": r["why"]}
            for r in result["not_compared"]]
    for row in result["rows"]:
        drop = round((row["accuracy_a"] - row["accuracy_b"]) * row["n_test"])
        allowed = round(MNIST_DROP * row["n_test"]) if row["dataset"] == "mnist" else IMAGES_DROP
        checks = {"mcnemar": bool(row["mcnemar_p"] >= 0.05), "test drop": bool(drop <= allowed),
                  "cv inside": bool(row["cv_inside"])}
        out.append({
            "dataset": row["dataset"], "model": row["model"],
            "test_new": row["accuracy_b"], "test_old": row["accuracy_a"],
            "images_fewer_right": drop, "allowed": allowed,
            "mcnemar_p": row["mcnemar_p"], "only_new_right": row["only_b"],
            "only_old_right": row["only_a"], "cv_new": row["cv_mean_b"],
            "cv_old": row["cv_mean_a"], "cv_old_low": row["cv_low_a"],
            "cv_old_high": row["cv_high_a"], "fit_seconds_new": round(row["fit_seconds_b"], 1),
            "fit_seconds_old": round(row["fit_seconds_a"], 1), "checks": checks,
            "same": all(checks.values()),
        })
    return sorted(out, key=lambda r: (r["dataset"], r["model"]))


def _why(row):
    return row.get("why") or ", ".join(k for k, ok in row["checks"].items() if not ok)


def render(result):
    def pct(x):
        return f"{100 * x:.2f}"

    rows = [{
        "dataset": r["dataset"], "model": r["model"],
        "test new / old %": f"{pct(r['test_new'])} / {pct(r['test_old'])}" if "test_new" in r
        else "-",
        "fewer right (allowed)": f"{r['images_fewer_right']} ({r['allowed']})"
        if "test_new" in r else "-",
        "McNemar p": f"{r['mcnemar_p']:.3f}" if "test_new" in r else "-",
        "CV new % in old 95 % CI": (f"{pct(r['cv_new'])} in [{pct(r['cv_old_low'])}, "
                                    f"{pct(r['cv_old_high'])}]") if "test_new" in r else "-",
        "fit s new / old": f"{r['fit_seconds_new']:.0f} / {r['fit_seconds_old']:.0f}"
        if "test_new" in r else "-",
        "same": "yes" if r["same"] else f"NO ({_why(r)})",
    } for r in result["rows"]]
    same = sum(r["same"] for r in result["rows"])
    text = (f"# Same answers: new code against the reference code\n\nMachine: "
            f"{result['machine']}. Written by `python benchmarks/run.py same_answers` from "
            f"`{result['new']}` (new, code {result['new_code']}) and `{result['old']}` "
            f"(reference, code {result['old_code']}). Rules: McNemar's exact p >= 0.05 on "
            f"the test predictions, at most {MNIST_DROP:.2%} fewer test images right on MNIST "
            f"and {IMAGES_DROP} on other datasets, the new CV mean inside the reference row's "
            f"corrected 95 % interval.\n\n**{same} of {len(rows)} rows the same.**\n\n"
            + markdown_table(rows) + "\n")
    write_page("same_answers", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", help="the pair id in run_all_walltime.jsonl (default: last)")
    parser.add_argument("--new")
    parser.add_argument("--old")
    args = parser.parse_args()
    if args.new and args.old:
        new, old, host = Path(args.new), Path(args.old), "?"
        new_code = old_code = "?"
    else:
        runs = [r for r in read_jsonl(WALLTIME) if r.get("pair") and r.get("records")]
        pair = args.pair or runs[-1]["pair"]
        first, *rest = [r for r in runs if r["pair"] == pair and r["preset"] == "default"]
        new, old = RESULTS / first["records"], RESULTS / rest[0]["records"]
        host, new_code, old_code = first["machine"]["host"], first["code"], rest[0]["code"]
    result = {"new": str(new.relative_to(RESULTS) if new.is_relative_to(RESULTS) else new),
              "old": str(old.relative_to(RESULTS) if old.is_relative_to(RESULTS) else old),
              "new_code": new_code, "old_code": old_code, "machine": host,
              "timestamp": now(), "rows": compare(new, old)}
    write_json("same_answers", result)
    render(result)
    print(OUT.with_suffix(".md").read_text())
    return 0 if all(r["same"] for r in result["rows"]) else 1
