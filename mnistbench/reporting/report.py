"""Tables and figures from records, and nothing else (no training here).

``summarize`` turns records into one row per (dataset, model); ``write_tables``
writes them as Markdown, CSV, LaTeX and HTML with a header naming the preset,
seed, library versions, hardware and date; ``write_figures`` draws the fold
accuracies, the CNN learning curves, the best model's confusion matrix and
accuracy against fit time.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd

from mnistbench.evaluation.agreement import compare_records
from mnistbench.evaluation.records import as_records
from mnistbench.evaluation.stats import (
    corrected_cv_interval,
    decode_predictions,
    groups,
    pairwise_tests,
    wilson_interval,
)
from mnistbench.reporting.compare_tables import (
    COMPARE_NOTE,
    compare_display,
    compare_notes,
    write_compare_tables,
)
from mnistbench.reporting.figures import new_figure, save_figure
from mnistbench.reporting.html import write_html_report
from mnistbench.reporting.robustness_tables import ROBUSTNESS_NOTE, write_robustness
from mnistbench.reporting.tables import (
    check_file_parts,
    comment_md,
    escape_md,
    file_part,
    out_file,
    write_table_files,
    write_text,
)
from mnistbench.reporting.tuning_tables import TUNING_NOTE, write_tuning_tables
from mnistbench.reporting.verdict import classic_vs_deep

__all__ = ["choose_run", "latest_records", "runs_in", "summarize", "write_figures", "write_tables",
           "write_report"]

TABLE_COLUMNS = [
    "dataset", "model", "status", "cv_accuracy_mean", "cv_accuracy_std", "cv_folds",
    "cv_ci_low", "cv_ci_high", "test_accuracy", "test_ci_low", "test_ci_high", "group",
    "test_macro_f1", "fit_seconds", "predict_seconds", "n_train", "n_test", "device",
    "warnings",
]


def latest_records(records, preset=None, seed=None):
    """The newest record of each unit (dataset, model, split) for a preset and seed."""
    records = as_records(records)
    latest = {}
    for r in records:
        if preset is not None and r.preset != preset:
            continue
        if seed is not None and r.seed != seed:
            continue
        latest[(r.dataset, r.model, r.split)] = r  # later lines win
    return list(latest.values())


def runs_in(records) -> list[tuple[str, int, int]]:
    """The runs ``records`` hold, newest last: ``(preset, seed, units)`` for each preset and
    seed, ordered by their newest record (a store appends in the order units finish)."""
    last, units = {}, {}
    for i, r in enumerate(records):
        key = (r.preset, r.seed)
        last[key] = i
        units.setdefault(key, set()).add((r.dataset, r.model, r.split))
    return [(p, s, len(units[(p, s)])) for (p, s) in sorted(last, key=last.get)]


def choose_run(records, preset=None, seed=None) -> tuple[str, int]:
    """The run a report renders: the newest run in ``records`` unless ``preset`` (and
    ``seed``) name another; a :class:`ValueError` lists the runs when none matches."""
    runs = [(p, s, n) for p, s, n in runs_in(records)
            if (preset is None or p == preset) and (seed is None or s == seed)]
    if not runs:
        held = "; ".join(f"preset {p}, seed {s} ({n} units)" for p, s, n in runs_in(records))
        asked = " and ".join(x for x in (preset and f"preset {preset!r}",
                                         seed is not None and f"seed {seed}") if x)
        raise ValueError(f"no records for {asked}; this folder holds: {held or 'nothing'}; "
                         "leave out --preset and --seed for the newest run")
    return runs[-1][0], runs[-1][1]


def summarize(records, tests=None) -> pd.DataFrame:
    """One row per (dataset, model): CV mean/std over folds with the corrected 95 %
    interval, test accuracy with its Wilson 95 % interval, the McNemar group, times, status.

    A model whose units failed or timed out keeps its row, with the status and error.
    ``tests``: ``{dataset: significance(records, dataset)}`` when already computed.
    """
    records = as_records(records)
    tests = tests if tests is not None else significance_by_dataset(records)
    rows = {}
    for r in records:
        row = rows.setdefault((r.dataset, r.model), {
            "dataset": r.dataset, "model": r.model, "folds": [], "problems": [],
            "test": None, "warnings": [],
        })
        row["warnings"] += [f"{r.split}: {w}" for w in r.warnings]
        if r.status != "ok":
            row["problems"].append(f"{r.split}: {r.status} ({(r.error or '')})")
        elif r.split.is_test:
            row["test"] = r
        else:
            row["folds"].append(r)
    out = []
    for row in rows.values():
        folds, test = row["folds"], row["test"]
        status = "ok" if not row["problems"] else (
            "timeout" if any("timeout" in p for p in row["problems"]) else "failed")
        scores = [r.accuracy for r in folds]
        cv_ci = (corrected_cv_interval(scores, np.mean([r.n_train for r in folds]),
                                       np.mean([r.n_test for r in folds]))[1:]
                 if len(folds) >= 2 else (np.nan, np.nan))
        cv_ci = (max(0.0, cv_ci[0]), min(1.0, cv_ci[1])) if len(folds) >= 2 else cv_ci
        test_ci = (wilson_interval(round(test.accuracy * test.n_test), test.n_test)
                   if test else (np.nan, np.nan))
        out.append({
            "dataset": row["dataset"],
            "model": row["model"],
            "status": status,
            "cv_accuracy_mean": float(np.mean(scores)) if folds else np.nan,
            "cv_accuracy_std": float(np.std(scores)) if folds else np.nan,
            "cv_folds": len(folds),
            "cv_ci_low": cv_ci[0],
            "cv_ci_high": cv_ci[1],
            "test_accuracy": test.accuracy if test else np.nan,
            "test_ci_low": test_ci[0],
            "test_ci_high": test_ci[1],
            "group": "",
            "test_macro_f1": test.macro_f1 if test else np.nan,
            "fit_seconds": test.fit_seconds if test else np.nan,
            "predict_seconds": test.predict_seconds if test else np.nan,
            "n_train": test.n_train if test else np.nan,
            "n_test": test.n_test if test else np.nan,
            "device": test.device if test else "",
            "warnings": " | ".join(row["warnings"]),
            "error": "; ".join(row["problems"]),
        })
    df = pd.DataFrame(out, columns=TABLE_COLUMNS + ["error"])
    df = df.sort_values(["dataset", "test_accuracy"], ascending=[True, False],
                        na_position="last").reset_index(drop=True)
    for dataset in df["dataset"].unique():
        for model, letters in tests[dataset]["groups"].items():
            df.loc[(df["dataset"] == dataset) & (df["model"] == model), "group"] = letters
    return df


def significance_by_dataset(records) -> dict:
    """:func:`significance` of every dataset in ``records``, computed once."""
    return {d: significance(records, d) for d in sorted({r.dataset for r in records})}


def significance(records, dataset) -> dict:
    """Pairwise tests between the models of ``dataset`` that finished.

    Returns ``{"pairs": [...], "groups": {model: letters}, "left_out": {model: reason}}``.
    A model is left out of the tests when any of its units failed or timed out, and out
    of the McNemar test (and the groups) when its record predates stored predictions.
    """
    mine = [r for r in records if r.dataset == dataset]
    failed = {r.model: f"{r.split} {r.status}" for r in mine if r.status != "ok"}
    models, left_out = {}, dict((m, f"not tested: {why}") for m, why in failed.items())
    for r in mine:
        if r.model in failed:
            continue
        m = models.setdefault(r.model, {"correct": None, "folds": {}, "fold_sizes": None,
                                           "accuracy": np.nan})
        if r.split.is_test:
            m["accuracy"] = r.accuracy
            if r.predictions:
                m["correct"] = decode_predictions(r.predictions)[1]
            else:
                left_out[r.model] = ("no stored predictions (recorded before they were kept): "
                                        "re-run it for McNemar's test and the group")
        else:
            m["folds"][r.split] = r.accuracy
            m["fold_sizes"] = (r.n_train, r.n_test)
    pairs = pairwise_tests(models) if len(models) > 1 else []
    adjusted = {frozenset((p["model_a"], p["model_b"])): p["mcnemar_p_holm"] for p in pairs}
    ranked = sorted((m for m in models if models[m]["correct"] is not None),
                    key=lambda m: -models[m]["accuracy"])
    letters = groups(ranked, lambda a, b: adjusted[frozenset((a, b))]) if len(ranked) > 1 else (
        {ranked[0]: "a"} if ranked else {})
    return {"pairs": pairs, "groups": letters, "left_out": left_out}


def _header(records, preset, seed, run=None):
    versions = next((r.versions for r in records if r.versions), {})
    hosts = sorted({(r.host or "") for r in records if r.host})
    devices = sorted({(r.device or "") for r in records if r.device})
    stamp = max(((r.timestamp or "") for r in records), default="")
    return [
        f"mnistbench results: preset {preset}, seed {seed}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"hardware: CPU {', '.join(hosts) or 'unknown'}; devices used: {', '.join(devices) or 'cpu'}",
        (f"run {run}; records up to {stamp}" if run else
         f"records up to {stamp}; rendered {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"),
        GROUP_NOTE,
    ]


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: percentages with 95 % intervals, the group, seconds."""
    def pct(x):
        return "" if pd.isna(x) else f"{100 * x:.2f}"

    def interval(low, high):
        return "" if pd.isna(low) else f"[{100 * low:.2f}, {100 * high:.2f}]"

    shown = pd.DataFrame({
        "model": df["model"],
        "CV accuracy % (mean ± std)": [
            "" if pd.isna(m) else f"{100 * m:.2f} ± {100 * s:.2f} ({n} folds)"
            for m, s, n in zip(df["cv_accuracy_mean"], df["cv_accuracy_std"], df["cv_folds"], strict=True)
        ],
        "CV 95 % CI (corrected)": [interval(lo, hi) for lo, hi in
                                   zip(df["cv_ci_low"], df["cv_ci_high"], strict=True)],
        "test accuracy %": df["test_accuracy"].map(pct),
        "test 95 % CI (Wilson)": [interval(lo, hi) for lo, hi in
                                  zip(df["test_ci_low"], df["test_ci_high"], strict=True)],
        "group": df["group"],
        "test macro F1": df["test_macro_f1"].map(lambda x: "" if pd.isna(x) else f"{x:.4f}"),
        "fit s": df["fit_seconds"].map(lambda x: "" if pd.isna(x) else f"{x:.1f}"),
        "predict s": df["predict_seconds"].map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
        "device": df["device"],
        "status": [_status_cell(s, e, w) for s, e, w in
                   zip(df["status"], df["error"], df["warnings"], strict=True)],
    })
    return shown


def _status_cell(status, error, warnings_text) -> str:
    """"ok", "failed: why", or "ok, warned (fold-1, test): <first warning's first
    sentence>": a fit that ended unconverged must not read as a clean "ok"."""
    cell = status if status == "ok" else f"{status}: {error}"
    if not isinstance(warnings_text, str) or not warnings_text:
        return cell
    items = warnings_text.split(" | ")
    splits = ", ".join(dict.fromkeys(item.split(": ", 1)[0] for item in items))
    first = items[0].split(": ", 2)[-1].split(". ")[0]
    return f"{cell}, warned ({splits}): {first}"


GROUP_NOTE = ("group: models sharing a letter cannot be told apart on the test split "
              "(McNemar's exact test, Holm-corrected over all pairs, 5 % level); "
              "CV interval: Nadeau & Bengio's corrected variance")


def write_tables(df: pd.DataFrame, records, out_dir, preset, seed, run=None) -> list[Path]:
    """Write per-dataset and combined tables as .md, .csv, .tex and .html."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = _header(records, preset, seed, run)
    written = []
    parts = [(f"results_{file_part(d)}", df[df["dataset"] == d])
             for d in sorted(df["dataset"].unique())]
    parts.append(("results_all", df))
    for stem, part in parts:
        part = part.reset_index(drop=True)
        shown = _display(part)
        if stem == "results_all":
            shown.insert(0, "dataset", part["dataset"].values)
        written += write_table_files(out_dir / stem, header, shown, part,
                                     formats=("md", "csv", "tex", "html"), numparse=True)
    return written


def format_p(p) -> str:
    """A p-value as tables show it."""
    if p is None or pd.isna(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def significance_table(tests) -> tuple[pd.DataFrame, list[str]]:
    """One dataset's :func:`significance` as a display table, and notes on the models
    left out (failed, or recorded without predictions)."""
    shown = pd.DataFrame([{
        "model A": p["model_a"], "model B": p["model_b"],
        "only A right": "" if p["a_only_right"] is None else p["a_only_right"],
        "only B right": "" if p["b_only_right"] is None else p["b_only_right"],
        "McNemar p": format_p(p["mcnemar_p"]), "McNemar p (Holm)": format_p(p["mcnemar_p_holm"]),
        "CV t-test p (corrected)": format_p(p["ttest_p"]),
        "CV t-test p (Holm)": format_p(p["ttest_p_holm"]),
    } for p in tests["pairs"]])
    notes = [f"{m}: {why}" for m, why in sorted(tests["left_out"].items())]
    return shown, notes


def write_significance(tests, out_dir, header) -> list[Path]:
    """``significance_<dataset>.md`` and ``.csv`` for every dataset of ``tests``
    (:func:`significance_by_dataset`) with two or more models (one model: no file)."""
    written = []
    for dataset, result in tests.items():
        shown, notes = significance_table(result)
        if shown.empty:
            continue
        stem = Path(out_dir) / f"significance_{file_part(dataset)}"
        intro = [f"{dataset}: every pair of models, McNemar's exact test on the test split "
                 "(only A right / only B right: test images exactly one of them got right) and "
                 "the corrected resampled t-test on the paired CV folds; Holm-corrected over "
                 "the pairs"] + notes
        written += write_table_files(stem, header, shown, shown, intro=intro,
                                     formats=("md", "csv"), numparse=True)
    return written


# --------------------------------------------------------------------------- figures
def _fold_boxplot(dataset, mine, order):
    """Fold accuracies per model, or None without CV records."""
    folds = {m: [100 * r.accuracy for r in mine if r.model == m and not r.split.is_test]
             for m in order}
    folds = {m: v for m, v in folds.items() if v}
    if not folds:
        return None
    fig, ax = new_figure(figsize=(1.2 * len(folds) + 2, 4))
    ax.boxplot(list(folds.values()), tick_labels=list(folds.keys()))
    ax.set_ylabel("cross-validation accuracy (%)")
    ax.set_title(f"{dataset}: accuracy per fold")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _learning_curves(dataset, model, curves):
    """A deep model's curves, one colour per fold (train solid, validation dashed)."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - loaded lazily, only when used

    fig, (ax_loss, ax_acc) = new_figure(2, 1, figsize=(6, 6), sharex=True)
    for i, r in enumerate(sorted((r for r in curves if r.model == model),
                                 key=lambda r: r.split)):
        h, color = r.history, f"C{i}"
        epochs = np.arange(1, len(h["loss"]) + 1)
        ax_loss.plot(epochs, h["loss"], color=color, label=f"{r.split} train")
        ax_acc.plot(epochs, h["accuracy"], color=color)
        if "val_loss" in h:
            ax_loss.plot(epochs, h["val_loss"], color=color, ls="--",
                         label=f"{r.split} validation")
            ax_acc.plot(epochs, h["val_accuracy"], color=color, ls="--")
    ax_loss.set_title(f"{dataset} / {model}: cross-entropy loss")
    ax_acc.set_title("classification accuracy")
    ax_acc.set_xlabel("epoch")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.legend(fontsize=7)
    return fig


def _confusion_best(dataset, tests):
    """The best model's confusion matrix on the test split (scikit-learn's display)."""
    from sklearn.metrics import ConfusionMatrixDisplay  # noqa: PLC0415 - loaded lazily, only when used

    best = max(tests, key=lambda r: r.accuracy)
    fig, ax = new_figure(figsize=(5.5, 5))
    names = best.get("class_names")  # a dataset whose classes have names, e.g. clothing
    display = ConfusionMatrixDisplay(np.array(best["confusion"]),
                                     display_labels=names or best["labels"])
    display.plot(ax=ax, cmap="Blues", colorbar=True, text_kw={"fontsize": 7},
                 xticks_rotation="vertical" if names else "horizontal")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{dataset}: {best['model']} (test accuracy {100 * best['accuracy']:.2f} %)")
    return fig


def _accuracy_vs_time(dataset, tests):
    from matplotlib.ticker import NullFormatter  # noqa: PLC0415 - loaded lazily, only when used

    fig, ax = new_figure(figsize=(6, 4))
    for r in tests:
        ax.scatter(r.fit_seconds, 100 * r.accuracy)
        ax.annotate(r.model, (r.fit_seconds, 100 * r.accuracy), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("fit time on the training split (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{dataset}: accuracy vs fit time")
    ax.grid(alpha=0.3)
    return fig


def _pvalue_map(dataset, pairs, order):
    """Pairwise p-values: McNemar (Holm) below the diagonal, corrected t-test above."""
    names = order if order else sorted({p["model_a"] for p in pairs})
    names = [m for m in names if any(m in (p["model_a"], p["model_b"]) for p in pairs)]
    index = {m: i for i, m in enumerate(names)}
    grid = np.full((len(names), len(names)), np.nan)
    for p in pairs:
        i, j = sorted((index[p["model_a"]], index[p["model_b"]]))
        grid[j, i], grid[i, j] = p["mcnemar_p_holm"], p["ttest_p_holm"]
    fig, ax = new_figure(figsize=(1.0 * len(names) + 2.5, 0.8 * len(names) + 2))
    im = ax.imshow(np.log10(np.clip(grid, 1e-6, 1)), cmap="viridis", vmin=-6, vmax=0)
    for (i, j), v in np.ndenumerate(grid):
        if not np.isnan(v):
            ax.text(j, i, format_p(v).replace("< 0.0001", "<1e-4"), ha="center",
                    va="center", fontsize=7, color="white" if v < 0.01 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title(f"{dataset}: p-values (Holm)\nbelow: McNemar on the test split; "
                 "above: corrected t-test on CV folds", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="log10 p")
    return fig


def write_figures(df: pd.DataFrame, records, out_dir, pairwise=None) -> list[Path]:
    """Box plots of fold accuracies, CNN learning curves, best confusion matrix, accuracy vs
    time, pairwise p-values (``pairwise``: :func:`significance_by_dataset`, if computed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    ok = [r for r in records if r.status == "ok"]
    for dataset in sorted({r.dataset for r in ok}):
        mine = [r for r in ok if r.dataset == dataset]
        stem = file_part(dataset)
        order = df[(df["dataset"] == dataset)]["model"].tolist()
        figures = {f"{stem}_cv_boxplot": _fold_boxplot(dataset, mine, order)}
        curves = [r for r in mine if r.history and not r.split.is_test]
        for model in sorted({r.model for r in curves}):
            figures[f"{stem}_{file_part(model)}_learning_curves"] = _learning_curves(
                dataset, model, curves)
        tests = [r for r in mine if r.split.is_test and r.confusion]
        if tests:
            figures[f"{stem}_confusion_best"] = _confusion_best(dataset, tests)
            figures[f"{stem}_accuracy_vs_fit_time"] = _accuracy_vs_time(dataset, tests)
        pairs = (pairwise[dataset] if pairwise else significance(records, dataset))["pairs"]
        if pairs:
            figures[f"{stem}_pvalues"] = _pvalue_map(dataset, pairs, order)
        for name, fig in figures.items():
            if fig is not None:
                written += save_figure(fig, out_dir, name)
    return written


def write_verdicts(df, tests, records, out_dir, header) -> dict:
    """``classic_vs_deep_<dataset>.md``: :func:`~mnistbench.reporting.verdict.classic_vs_deep`'s
    sentence for each dataset with a finished model of both families."""
    out = {}
    for dataset in sorted(df["dataset"].unique()):
        sentence = classic_vs_deep(df, tests, records, dataset)
        if sentence is not None:
            out[dataset] = sentence
            write_text(out_file(out_dir, "classic_vs_deep", file_part(dataset), suffix="md"),
                       "\n".join(comment_md(h) for h in header) + "\n\n" + escape_md(sentence)
                       + "\n")
    return out


def write_report(records, out_dir, preset, seed, figures=True, run=None, reference=None):
    """Tables, significance tables, figures (unless ``figures=False``) and one
    self-contained ``report.html``; returns the table. ``run``: the id of the run whose
    records ``records`` are (exactly one per unit, named in every header); without it
    (a folder written before runs were recorded), the newest records of
    ``preset``/``seed``. ``reference``: ``(records, label)`` of a run to compare this one
    with: ``compare_*`` tables and a section of report.html."""
    records = as_records(records)
    chosen = records if run else latest_records(records, preset=preset, seed=seed)
    check_file_parts([r.dataset for r in chosen] + [r.model for r in chosen])
    if not chosen:
        raise ValueError(
            f"no records for preset {preset!r} and seed {seed} in the store; run "
            f"`python -m mnistbench run-all --preset {preset}` first"
        )
    tests = significance_by_dataset(chosen)
    df = summarize(chosen, tests)
    header = _header(chosen, preset, seed, run)
    write_tables(df, chosen, out_dir, preset, seed, run)
    write_significance(tests, out_dir, header)
    verdicts = write_verdicts(df, tests, chosen, out_dir, header)
    tuned = write_tuning_tables(df, chosen, out_dir, header)  # under --tune only
    drawn = write_figures(df, chosen, out_dir, tests) if figures else []
    robust, paths = write_robustness(chosen, out_dir, header, figures)
    drawn += paths
    sections = []
    for dataset in sorted(df["dataset"].unique()):
        pairs, notes = significance_table(tests[dataset])
        pngs = [p for p in drawn if p.suffix == ".png"
                and p.name.startswith(file_part(dataset) + "_")]  # parts hold no "_"
        extras = [(title, note, table.get(dataset)) for title, note, table in (
            ("Default and tuned (run-all --tune)", TUNING_NOTE, tuned),
            ("Robustness: accuracy under 15 corruptions", ROBUSTNESS_NOTE, robust))
            if dataset in table]
        sections.append((dataset, _display(df[df["dataset"] == dataset].reset_index(drop=True)),
                         pairs, notes, pngs, extras))
    problems = [(r.dataset, r.model, r.status, r.error) for r in df.itertuples()
                if r.status != "ok"]
    comparison = None
    if reference is not None:
        reference_records, label = reference
        result = compare_records(reference_records, chosen)
        write_compare_tables(result, out_dir, label, f"this run ({run or 'newest records'})")
        comparison = (compare_notes(result, label, "this run") + [COMPARE_NOTE],
                      compare_display(result["rows"]))
    write_html_report(sections, chosen, out_dir, preset, seed, header, problems, GROUP_NOTE,
                      comparison, verdicts)
    return df
