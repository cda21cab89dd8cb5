"""Names and paths that cannot collide or escape: one name-to-file function, every format
escaping what it copies, one path normaliser."""

import re
from pathlib import Path

import numpy as np
import pytest

from mnistbench.evaluation.records import as_records
from mnistbench.evaluation.stats import encode_predictions
from mnistbench.reporting.curve_tables import write_curve_report
from mnistbench.reporting.report import write_report
from mnistbench.reporting.tables import check_file_parts, file_part

HOSTILE = ("x<script>alert(1)</script>\n\\input{/etc/passwd} --> <!-- | & % $ # _ { } ~ ^ "
           "/../../evil")


@pytest.mark.parametrize("name, part", [
    ("mnist", "mnist"), ("fashion-mnist", "fashion-mnist"), ("cnn-deep", "cnn-deep"),
    ("digits.v2", "digits.v2"),
])
def test_plain_names_are_their_own_file_part(name, part):
    assert file_part(name) == part


@pytest.mark.parametrize("name", ["npz:data.npz", "folder:/a/b/my digits", "Mine", "a_b",
                                  "/../../etc/passwd", "..", "x" * 240, "ｍｎｉｓｔ", "a+b"])
def test_changed_names_are_safe_bounded_and_hashed(name):
    part = file_part(name)
    assert re.fullmatch(r"[A-Za-z0-9.-]+-[0-9a-f]{8}", part), part
    assert not part.startswith(".") and len(part) <= 69 and "/" not in part


def test_two_names_two_files():
    names = ["data.npz", "npz:data.npz", "npz:other/data.npz", "digits", "digits.v2", "Mine",
             "mine", "a+b", "a-b", "a_b", "x" * 240, "x" * 239 + "y"]
    parts = [file_part(n).lower() for n in names]
    assert len(set(parts)) == len(parts)
    check_file_parts(names)


def _records(dataset, models):
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 60)
    out = []
    for k, model in enumerate(models):
        pred = np.where(rng.rand(60) < 0.8 - 0.1 * k, y, (y + 1) % 3)
        common = {"dataset": dataset, "model": model, "preset": "quick", "seed": 0,
                  "params_hash": "h", "host": HOSTILE, "device": HOSTILE,
                  "versions": {HOSTILE: HOSTILE}, "warnings": [f"ConvergenceWarning: {HOSTILE}"],
                  "timestamp": HOSTILE, "family": "deep" if k else "classic"}
        for fold in (1, 2):
            out.append({**common, "split": f"fold-{fold}", "status": "ok", "accuracy": 0.8,
                        "n_train": 40, "n_test": 20})
        out.append({**common, "split": "test", "status": "ok", "n_train": 100, "n_test": 60,
                    "accuracy": float(np.mean(pred == y)), "macro_f1": 0.5,
                    "fit_seconds": 1.0, "predict_seconds": 0.1, "labels": [0, 1, 2],
                    "confusion": [[20, 0, 0], [0, 20, 0], [0, 0, 20]],
                    "predictions": encode_predictions(y, pred)})
        out.append({**common, "split": "n100-r1", "status": "ok", "accuracy": 0.7,
                    "n_train": 100, "n_test": 60, "fit_seconds": 1.0})
    out.append({**out[0], "model": HOSTILE + "-failed", "status": "failed", "error": HOSTILE})
    return as_records(out)


def test_hostile_strings_in_every_field_are_escaped_in_every_file(tmp_path):
    out = tmp_path / "deep" / "out"
    records = _records(HOSTILE, [HOSTILE, "cnn-" + HOSTILE])
    rest = [r for r in records if not r.split.is_curve]
    write_report(rest, out, "quick", 0, figures=True, run="r1")
    write_curve_report([r for r in records if r.split.is_curve], out, figures=True)
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert written and all(out in p.parents and p.parent == out for p in written)
    kinds = {p.suffix for p in written}
    assert {".md", ".csv", ".tex", ".html", ".png", ".svg"} <= kinds
    for path in written:
        if path.suffix not in (".md", ".html", ".tex"):
            continue
        text = path.read_text()
        if path.suffix == ".md":  # every header comment closes on its own line, once
            comments = [line for line in text.splitlines() if line.startswith("<!--")]
            for line in comments:
                assert line.endswith(" -->") and line.count("-->") == 1, (path, line)
            text = "\n".join(line for line in text.splitlines() if line not in comments)
        if path.suffix == ".tex":  # no live LaTeX line made of a copied string
            for line in text.splitlines():
                if "input" in line and not line.startswith("%"):
                    assert "\\input" not in line.replace("\\textbackslash{}input", ""), line
        else:  # Markdown and HTML: no live markup made of a copied string
            assert "<script>" not in text and "<!--" not in text, path
    assert not list(Path(tmp_path).glob("evil*"))


def test_report_html_gives_the_verdict_first_and_boxes_every_table(tmp_path):
    records = [r for r in _records("digits", ["logreg", "cnn-deep"]) if not r.split.is_curve]
    write_report(records, tmp_path, "quick", 0, figures=False, run="r1")
    page = (tmp_path / "report.html").read_text()
    verdict = page.index("<h2>Classic vs deep</h2>")
    assert verdict < page.index("<h2>Protocol</h2>") < page.index("<table")
    sentence = (tmp_path / "classic_vs_deep_digits.md").read_text().splitlines()[-1]
    assert sentence.split(" (")[0] in page[verdict:page.index("<h2>Protocol</h2>")]
    assert page.count("<table") == page.count("<div class='wide'><table")
