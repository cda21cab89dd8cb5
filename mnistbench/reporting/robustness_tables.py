"""The robustness tables and figures: accuracy under each corruption per model (computed by
:func:`mnistbench.evaluation.robustness.robustness_table`), as md/csv/tex and a heatmap, and
one digit drawn under every corruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistbench.data.corruptions import CORRUPTIONS, applicable, corrupt
from mnistbench.evaluation.robustness import robustness_table
from mnistbench.reporting.figures import save_figure
from mnistbench.reporting.tables import file_part, write_table_files

__all__ = ["ROBUSTNESS_NOTE", "plot_corruptions", "write_corruption_figure", "write_robustness"]

ROBUSTNESS_NOTE = (
    "Accuracy (%) on corrupted copies of the same stratified subset of the test split "
    "(mnistbench.data.corruptions: MNIST-C's 15 corruptions, one fixed severity each, seeded); "
    "clean: that subset uncorrupted. mean drop: clean minus the mean over the applicable "
    "corruptions, in points; relative mCE: the mean corruption error over the clean error. "
    "n/a: the corruption has no meaning at this image size.")


def _heatmap(dataset, table):
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy; a Figure, not pyplot

    cols = ["clean"] + list(CORRUPTIONS) + ["mean"]
    values = table[cols].to_numpy(dtype=float)
    fig = Figure(figsize=(12, 0.45 * len(table) + 2.2))
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=max(0, np.nanmin(values)),
                   vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.0f}", ha="center", va="center",
                fontsize=7, color="white" if np.isnan(v) or v < 70 else "black")
    ax.set_xticks(range(len(cols)), [c.replace("_", " ") for c in cols], rotation=45,
                  ha="right", fontsize=8)
    ax.set_yticks(range(len(table)), table["model"], fontsize=8)
    ax.set_title(f"{dataset}: accuracy (%) under each corruption "
                 f"({int(table['n_images'].iloc[0]):,} test images)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.02)
    return fig


def write_robustness(records, out_dir, header, figures=True):
    """``robustness_<file part>.{md,csv,tex}`` and (with ``figures``) the heatmap per dataset
    with robustness records; returns ``({dataset: displayed table}, [paths])``."""
    shown_by_dataset, written = {}, []
    for dataset in sorted({r.dataset for r in records}):
        table = robustness_table(records, dataset)
        if table.empty:
            continue
        shown = table.drop(columns="n_images").copy()
        for col in shown.columns[1:]:
            fmt = "{:.2f}" if col == "relative_mce" else (
                "{:+.2f}" if col == "mean_drop_points" else "{:.1f}")
            shown[col] = [fmt.format(v) if v == v else "n/a" for v in table[col]]
        stem = Path(out_dir) / f"robustness_{file_part(dataset)}"
        lines = [*header, ROBUSTNESS_NOTE + f" Test images per corruption: "
                 f"{int(table['n_images'].iloc[0]):,}."]
        written += write_table_files(stem, lines, shown, table,
                                     f"{dataset}: accuracy under corruptions",
                                     f"tab:robustness_{file_part(dataset)}")
        if figures:
            written += save_figure(_heatmap(dataset, table), out_dir,
                                   f"{file_part(dataset)}_robustness")
        shown_by_dataset[dataset] = shown
    return shown_by_dataset, written


def plot_corruptions(image, seed=0, pixel_max=255):
    """A matplotlib figure of one digit under every corruption (n/a where not applicable)."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy; a Figure, not pyplot

    image = np.asarray(image, dtype=np.uint8)
    fig = Figure(figsize=(12, 3.4))
    axes = fig.subplots(2, 8)
    panels = [("clean", image)] + [
        (name, corrupt(image, name, seed, pixel_max) if applicable(name, image.shape)[0] else None)
        for name in CORRUPTIONS]
    for ax, (name, im) in zip(axes.ravel(), panels, strict=False):
        ax.set_axis_off()
        ax.set_title(name.replace("_", " "), fontsize=8)
        if im is None:
            ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.imshow(im, cmap="gray", vmin=0, vmax=pixel_max)
    fig.tight_layout()
    return fig


def write_corruption_figure(dataset, image, out_dir, seed=0, pixel_max=255) -> list[Path]:
    """``<file part>_corruptions.{png,svg}``: what the corruptions do to one of ``dataset``'s images."""
    return save_figure(plot_corruptions(image, seed, pixel_max), out_dir,
                       f"{file_part(dataset)}_corruptions")
