"""The tuning tables: each model's default and tuned rows side by side, with the parameters
the nested search chose (computed by :func:`mnistbench.evaluation.tuning.tuning_table`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mnistbench.evaluation.tuning import tuning_table
from mnistbench.reporting.tables import file_part, write_table_files

__all__ = ["TUNING_NOTE", "write_tuning_tables"]

TUNING_NOTE = ("Nested CV: each tuned unit searched its own training data (successive halving, "
               "stratified 3-fold inner CV); the test split took no part in a choice.")


def write_tuning_tables(df: pd.DataFrame, records, out_dir, header) -> dict:
    """``tuning_<file_part(dataset)>.{md,csv,tex}`` for each dataset with tuned rows; returns
    ``{dataset: displayed table}`` (empty without tuned rows)."""
    table = tuning_table(df, records)
    shown_by_dataset = {}
    for dataset in sorted(table["dataset"].unique()) if len(table) else []:
        part = table[table["dataset"] == dataset].drop(columns="dataset").reset_index(drop=True)
        shown = part.copy()
        for col in ("default_cv", "tuned_cv", "default_test", "tuned_test"):
            shown[col] = [f"{100 * v:.2f}" if v == v else "-" for v in part[col]]
        shown["test_gain_points"] = [f"{v:+.2f}" if v == v else "-"
                                     for v in part["test_gain_points"]]
        for col in ("default_fit_seconds", "tuned_fit_seconds"):
            shown[col] = [f"{v:.2f}" if v == v else "-" for v in part[col]]
        stem = Path(out_dir) / f"tuning_{file_part(dataset)}"
        lines = [*header, TUNING_NOTE]
        write_table_files(stem, lines, shown, part, f"{dataset}: default and tuned",
                          f"tab:tuning_{file_part(dataset)}")
        shown_by_dataset[dataset] = shown
    return shown_by_dataset
