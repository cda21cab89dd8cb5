"""Does a faster code give the same answers? Two run-all record files, row by row.

For each (dataset, model) row of the reference run (the old code) and the new run, from
the same ``run_all_walltime.py`` invocation (its ``pair``):

* the final fits' test predictions against each other: McNemar's exact test on the paired
  correctness, p >= 0.05;
* the new test accuracy no lower than the reference by more than 0.10 points on MNIST
  (10 of its 10,000 test images) and 2 images on digits (or any other dataset);
* the new CV mean inside the reference row's corrected 95 % interval (Nadeau & Bengio).

Writes ``results/bench/same_answers.{json,md}``. Run::

    python benchmarks/same_answers.py [--pair ID]           # a pair of run_all_walltime.jsonl
    python benchmarks/same_answers.py --new A.jsonl --old B.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import RESULTS, markdown_table, now, read_jsonl

OUT = RESULTS / "bench" / "same_answers.json"
WALLTIME = RESULTS / "bench" / "run_all_walltime.jsonl"
#: Largest drop in test accuracy allowed: a fraction on MNIST, images elsewhere.
MNIST_DROP = 0.0010
IMAGES_DROP = 2


def _rows(path):
    rows = {}
    for r in read_jsonl(Path(path)):
        if r.get("status") != "ok" or r.get("preset") != "default":
            continue
        row = rows.setdefault((r["dataset"], r["model"]), {"folds": [], "test": None})
        if r["split"] == "test":
            row["test"] = r
        else:
            row["folds"].append(r)
    return rows


def compare(new_path, old_path) -> list[dict]:
    from mnistbench.evaluation.stats import corrected_cv_interval, decode_predictions, mcnemar_exact

    new, old = _rows(new_path), _rows(old_path)
    out = []
    for key in sorted(old):
        dataset, model = key
        a, b = new.get(key), old[key]
        if a is None or a["test"] is None or b["test"] is None:
            out.append({"dataset": dataset, "model": model, "same": False,
                        "why": "missing in the new run"})
            continue
        _, right_new = decode_predictions(a["test"]["predictions"])
        _, right_old = decode_predictions(b["test"]["predictions"])
        p, only_new, only_old = mcnemar_exact(right_new, right_old)
        n_test = len(right_new)
        drop = (int(right_old.sum()) - int(right_new.sum()))
        allowed = round(MNIST_DROP * n_test) if dataset == "mnist" else IMAGES_DROP
        scores = [r["accuracy"] for r in b["folds"]]
        mean, low, high = corrected_cv_interval(
            scores, np.mean([r["n_train"] for r in b["folds"]]),
            np.mean([r["n_test"] for r in b["folds"]]))
        new_cv = float(np.mean([r["accuracy"] for r in a["folds"]]))
        checks = {"mcnemar": bool(p >= 0.05), "test drop": bool(drop <= allowed),
                  "cv inside": bool(low <= new_cv <= high)}
        out.append({
            "dataset": dataset, "model": model,
            "test_new": a["test"]["accuracy"], "test_old": b["test"]["accuracy"],
            "images_fewer_right": drop, "allowed": allowed,
            "mcnemar_p": p, "only_new_right": only_new, "only_old_right": only_old,
            "cv_new": new_cv, "cv_old": mean, "cv_old_low": low, "cv_old_high": high,
            "fit_seconds_new": round(sum(r["fit_seconds"] for r in [a["test"], *a["folds"]]), 1),
            "fit_seconds_old": round(sum(r["fit_seconds"] for r in [b["test"], *b["folds"]]), 1),
            "checks": checks, "same": all(checks.values()),
        })
    return out


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
            f"{result['machine']}. Written by `python benchmarks/same_answers.py` from "
            f"`{result['new']}` (new, code {result['new_code']}) and `{result['old']}` "
            f"(reference, code {result['old_code']}). Rules: McNemar's exact p >= 0.05 on "
            f"the test predictions, at most {MNIST_DROP:.2%} fewer test images right on MNIST "
            f"and {IMAGES_DROP} on other datasets, the new CV mean inside the reference row's "
            f"corrected 95 % interval.\n\n**{same} of {len(rows)} rows the same.**\n\n"
            + markdown_table(rows) + "\n")
    OUT.with_suffix(".md").write_text(text)


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
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    render(result)
    print(OUT.with_suffix(".md").read_text())
    return 0 if all(r["same"] for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
