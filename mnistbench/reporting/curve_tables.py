"""Learning-curve tables and figures: test accuracy and fit time against training size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mnistbench.estimators.models import is_deep_name
from mnistbench.evaluation.records import Split, as_records
from mnistbench.reporting.figures import new_figure, save_figure
from mnistbench.reporting.tables import file_part, write_table_files

__all__ = ["crossover", "curve_point", "curve_split", "curve_table", "write_curve_report"]


def curve_split(size, rep) -> str:
    """The split name of a learning-curve point: ``n<size>-r<rep>``."""
    return str(Split.curve(size, rep))


def curve_point(split):
    """``(size, rep)`` of a learning-curve split (a :class:`Split` or its name); None for
    any other split."""
    split = split if isinstance(split, Split) else Split.parse(split)
    return (split.size, split.repeat) if split.is_curve else None


def curve_table(records) -> pd.DataFrame:
    """One row per (dataset, model, size): test accuracy mean, std, min and max over the
    subsamples, their count, and the mean fit seconds; failed points are counted apart."""
    rows = []
    for r in records:
        if not r.split.is_curve:
            continue
        rows.append({"dataset": r.dataset, "model": r.model, "size": r.split.size,
                     "family": r.family or ("deep" if is_deep_name(r.model)
                                                   else "classic"),
                     "ok": r.status == "ok", "accuracy": np.nan if r.accuracy is None else r.accuracy,
                     "fit_seconds": np.nan if r.fit_seconds is None else r.fit_seconds,
                     "warned": bool(r.warnings)})
    columns = ["dataset", "model", "family", "size", "accuracy_mean", "accuracy_std",
               "accuracy_min", "accuracy_max", "subsamples", "failed", "warned",
               "fit_seconds"]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    ok = df[df["ok"]]
    families = df.groupby("model")["family"].first()
    out = ok.groupby(["dataset", "model", "size"]).agg(
        accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
        accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max"),
        subsamples=("accuracy", "size"), warned=("warned", "sum"),
        fit_seconds=("fit_seconds", "mean")).reset_index()
    failed = df[~df["ok"]].groupby(["dataset", "model", "size"]).size().rename("failed")
    out = out.merge(failed.reset_index(), how="outer", on=["dataset", "model", "size"])
    out["failed"] = out["failed"].fillna(0).astype(int)
    out["subsamples"] = out["subsamples"].fillna(0).astype(int)
    out["warned"] = out["warned"].fillna(0).astype(int)
    out["family"] = out["model"].map(families)
    return out[columns].sort_values(["dataset", "model", "size"]).reset_index(drop=True)


def crossover(df: pd.DataFrame, dataset) -> str:
    """One sentence: from which size on the best CNN's mean accuracy is at least the best
    classic model's at every larger size, then the lead at each size in points (set it
    against the spread over seeds in the table before calling a lead real)."""
    mine = df[(df["dataset"] == dataset) & df["accuracy_mean"].notna()]
    best = mine.pivot_table(index="size", columns="family", values="accuracy_mean",
                            aggfunc="max")
    if not {"deep", "classic"} <= set(best.columns):
        return f"{dataset}: a crossover needs both a CNN and a classic model"
    best = best.dropna()
    lead = 100 * (best["deep"] - best["classic"])
    sizes = list(best.index)
    since = next((s for i, s in enumerate(sizes) if (lead.iloc[i:] >= 0).all()), None)
    if since is None:
        verdict = "the best classic model is ahead at the largest size"
    elif since == sizes[0]:
        verdict = "the best CNN is level with or ahead of the best classic model at every size"
    else:
        verdict = (f"the best CNN is level with or ahead of the best classic model from "
                   f"{since:,} training images on")
    points = ", ".join(f"{s:,}: {v:+.2f}" for s, v in lead.items())
    return f"{dataset}: {verdict} (best CNN minus best classic model, points, by size: {points})"


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    def pct(x):
        return "" if pd.isna(x) else f"{100 * x:.2f}"

    return pd.DataFrame({
        "model": df["model"],
        "training images": df["size"].map(lambda s: f"{s:,}"),
        "test accuracy % (mean ± std)": [
            "" if pd.isna(m) else (f"{100 * m:.2f}" if n < 2 else f"{100 * m:.2f} ± {100 * s:.2f}")
            for m, s, n in zip(df["accuracy_mean"], df["accuracy_std"], df["subsamples"], strict=True)],
        "min–max %": [f"{pct(lo)}–{pct(hi)}" if n >= 2 else "" for lo, hi, n in
                      zip(df["accuracy_min"], df["accuracy_max"], df["subsamples"], strict=True)],
        "subsamples": df["subsamples"].astype(str),
        "fit s": df["fit_seconds"].map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
        "notes": [", ".join(t for t in (f"{f} failed" if f else "", f"{w} warned" if w else "")
                            if t) for f, w in zip(df["failed"], df["warned"], strict=True)],
    })


def _header(records, dataset):
    hosts = sorted({(r.host or "unknown") for r in records if r.dataset == dataset})
    presets = sorted({(r.preset or "") for r in records if r.dataset == dataset})
    return [f"mnistbench learning curve: {dataset}, {', '.join(presets)}, seed "
            f"{records[0].get('seed', 0)}",
            f"hardware: CPU {', '.join(hosts)}",
            "each point: a stratified subsample of the training split (its own seed, which "
            "also seeds the model), scored on the whole test split"]


def _size_axis(ax, sizes):
    """A log x axis labelled at the curve's own sizes (100, 1,000, 60,000), not 10^k."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes], fontsize=7)
    ax.minorticks_off()


def _size_figure(mine, column, ylabel, title, band=False, log_y=False):
    """One line per model against training size (solid: CNNs; dashed: classic models),
    with a min-max band over the seeds when ``band``."""
    fig, ax = new_figure(figsize=(7.5, 4.8))
    for model, part in mine.groupby("model"):
        style = "-" if part["family"].iloc[0] == "deep" else "--"
        line, = ax.plot(part["size"], part[column], style, marker="o", ms=3, label=model)
        if band:
            ax.fill_between(part["size"], 100 * part["accuracy_min"],
                            100 * part["accuracy_max"], color=line.get_color(), alpha=0.15, lw=0)
    _size_axis(ax, sorted(mine["size"].unique()))
    ax.set(yscale="log" if log_y else "linear",
           xlabel="training images (log scale)", ylabel=ylabel, title=title)
    ax.title.set_fontsize(9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def _figures(df, dataset, out_dir) -> list[Path]:
    mine = df[(df["dataset"] == dataset) & df["accuracy_mean"].notna()]
    if mine.empty:
        return []
    mine = mine.assign(accuracy_pct=100 * mine["accuracy_mean"])
    accuracy = _size_figure(
        mine, "accuracy_pct", "test accuracy %", band=True,
        title=f"{dataset}: accuracy against training size (band: min-max over seeds; "
        "solid: CNNs)")
    cost = _size_figure(
        mine, "fit_seconds", "fit seconds (log scale)", log_y=True,
        title=f"{dataset}: fit time against training size (slope: how cost grows)")
    return (save_figure(accuracy, out_dir, f"{file_part(dataset)}_learning_curve")
            + save_figure(cost, out_dir, f"{file_part(dataset)}_fit_time_vs_size"))


def write_curve_report(records, out_dir, figures=True) -> pd.DataFrame:
    """Write ``learning_curve_<dataset>.{md,csv,tex}`` and, with ``figures``, the
    accuracy and fit-time figures; return the table of every dataset."""
    records = as_records(records)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = curve_table(records)
    for dataset in sorted(df["dataset"].unique()):
        part = df[df["dataset"] == dataset].reset_index(drop=True)
        header = _header(records, dataset) + [crossover(df, dataset)]
        shown = _shown(part)
        stem = out_dir / f"learning_curve_{file_part(dataset)}"
        write_table_files(stem, header[:-1], shown, part, intro=[header[-1] + "."],
                          numparse=True)
        if figures:
            _figures(df, dataset, out_dir)
    return df
