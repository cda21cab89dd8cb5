"""``compare_*.{md,csv,html}``: the tables of :func:`mnistbench.evaluation.agreement.compare_records`,
written through the one table writer (escaped like every table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mnistbench.evaluation.agreement import ALPHA, summary_line
from mnistbench.reporting.tables import file_part, write_table_files

__all__ = ["COMPARE_NOTE", "compare_display", "compare_notes", "write_compare_tables"]

COMPARE_NOTE = (f"same answers: McNemar's exact test on the test images right in one run "
                f"and not the other, Holm-corrected over the rows compared, p >= {ALPHA}, and "
                "B's CV mean inside A's corrected 95 % interval (Nadeau & Bengio); times: B "
                "over A, the whole row's fits (folds and final fit)")


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def _times(x) -> str:
    return "" if x is None else f"{x:.2f}"


def compare_display(rows) -> pd.DataFrame:
    """The rows as people read them."""
    return pd.DataFrame([{
        "dataset": r["dataset"], "model": r["model"],
        "test % A": _pct(r["accuracy_a"]), "test % B": _pct(r["accuracy_b"]),
        "only A right": r["only_a"], "only B right": r["only_b"],
        "McNemar p": f"{r['mcnemar_p']:.4f}", "p (Holm)": f"{r['mcnemar_p_holm']:.4f}",
        "CV % A [95 % CI]": ("" if r["cv_mean_a"] is None else
                             f"{_pct(r['cv_mean_a'])} [{_pct(r['cv_low_a'])}, "
                             f"{_pct(r['cv_high_a'])}]"),
        "CV % B": _pct(r["cv_mean_b"]),
        "fit B/A": _times(r["fit_time_ratio"]), "predict B/A": _times(r["predict_time_ratio"]),
        "devices A / B": f"{r['device_a']} / {r['device_b']}",
        "same": "yes" if r["same"] else f"no: {r['why']}",
    } for r in rows], columns=["dataset", "model", "test % A", "test % B", "only A right",
                               "only B right", "McNemar p", "p (Holm)", "CV % A [95 % CI]",
                               "CV % B", "fit B/A", "predict B/A", "devices A / B", "same"])


def compare_data(rows) -> pd.DataFrame:
    """The numbers, one column each (the CSV)."""
    keep = ["dataset", "model", "family", "same", "accuracy_a", "accuracy_b", "n_test",
            "only_a", "only_b", "mcnemar_p", "mcnemar_p_holm", "cv_mean_a", "cv_low_a",
            "cv_high_a", "cv_mean_b", "cv_inside", "fit_time_ratio", "predict_time_ratio",
            "device_a", "device_b", "host_a", "host_b", "why"]
    return pd.DataFrame([{k: r[k] for k in keep} for r in rows], columns=keep)


def compare_notes(result, label_a, label_b) -> list[str]:
    """The lines above the table: what A and B are, the summary, what differs or is left."""
    rows = result["rows"]
    hosts = {side: sorted({r[f"host_{side}"] or "unknown" for r in rows}) for side in "ab"}
    versions = {}
    for r in rows:
        for lib, (va, vb) in r["versions_differ"].items():
            versions.setdefault(lib, (va, vb))
    notes = [f"A: {label_a} (CPU {', '.join(hosts['a'])})",
             f"B: {label_b} (CPU {', '.join(hosts['b'])})",
             summary_line(result) + ".",
             "library versions that differ: " + (", ".join(
                 f"{lib} {va} (A) / {vb} (B)" for lib, (va, vb) in sorted(versions.items()))
                 or "none")]
    presets = sorted({(r["preset_a"], r["preset_b"]) for r in rows if r["preset_a"] != r["preset_b"]})
    if presets:
        notes.append("A and B ran different presets (" + ", ".join(
            f"{pa} / {pb}" for pa, pb in presets) + "): their answers may differ for that "
            "reason alone; compare runs of one preset")
    for side in ("a", "b"):
        if result[f"only_{side}"]:
            notes.append(f"only in {side.upper()}, not compared: " + ", ".join(
                f"{d}/{m}" for d, m in result[f"only_{side}"]))
    if result["not_compared"]:
        notes.append("not compared: " + "; ".join(
            f"{r['dataset']}/{r['model']} ({r['why']})" for r in result["not_compared"]))
    return notes


def write_compare_tables(result, out_dir, label_a, label_b) -> list[Path]:
    """``compare_all`` and ``compare_<dataset>`` as .md, .csv and .html."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = [f"mnistbench compare: {label_b} (B) against {label_a} (A)", COMPARE_NOTE]
    intro = compare_notes(result, label_a, label_b)
    rows = result["rows"]
    parts = [("compare_all", rows)] + [
        (f"compare_{file_part(d)}", [r for r in rows if r["dataset"] == d])
        for d in sorted({r["dataset"] for r in rows})]
    written = []
    for stem, part in parts:
        written += write_table_files(out_dir / stem, header, compare_display(part),
                                     compare_data(part), intro=intro,
                                     formats=("md", "csv", "html"))
    return written
