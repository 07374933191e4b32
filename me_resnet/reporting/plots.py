"""Plots of the kit's results beside the paper's printed values (matplotlib, Agg); files written atomically."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from me_resnet.models.registry import method_title  # noqa: E402
from me_resnet.reporting import paper  # noqa: E402
from me_resnet.reporting.outputs import write_figure  # noqa: E402
from me_resnet.reporting.tables import how_run_by_method  # noqa: E402

DEMO_NOTE = "synthetic DEMO data — says nothing about the paper's claims"


def _finish(fig, title: str, demo: bool, metrics: pd.DataFrame | None = None, legend=None):
    """The figure's title (with the demo note), how each method was run under the axes, and the entries of
    the ``legend`` axis in one legend right of all axes, where it covers no data."""
    fig.suptitle(title + (f"\n({DEMO_NOTE})" if demo else ""), fontsize=10)
    how = "\n".join(f"{t}: {p}" for t, p in how_run_by_method(metrics).items()) if metrics is not None else ""
    fig.tight_layout()
    if how:  # below the axes, after tight_layout has placed them
        fig.subplots_adjust(bottom=fig.subplotpars.bottom + 0.06 * (how.count("\n") + 1))
        fig.text(0.01, 0.01, how, fontsize=7, ha="left", va="bottom", color="dimgrey")
    if legend is not None:
        handles, labels = legend.get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    return fig


def _save(fig, path: Path) -> Path:
    write_figure(fig, path, dpi=110, bbox_inches="tight")  # the image grows to hold the legend beside the axes
    plt.close(fig)
    return path


def _not_printed(ax, positions, values) -> None:
    for position, value in zip(positions, values):
        if np.isnan(value):
            ax.text(position, 0.02, "not printed", rotation=90, ha="center", va="bottom", fontsize=7, color="grey")


def table5_figure(metrics: pd.DataFrame, *, demo: bool):
    """UF1 / UAR bars per dataset: each method run by the kit (solid) beside its own row of the paper's
    Table 5 (hatched, same colour), where the paper has one; "not printed" where the row has no value."""
    datasets = [d for d in ("casme2", "smic", "samm", "composite") if d in set(metrics["dataset"])]
    methods = list(dict.fromkeys(metrics["method"]))
    series = []  # (method, whose values), in drawing order
    for method in methods:
        series.append((method, "kit"))
        if method_title(method) in paper.TABLE5:
            series.append((method, "paper"))
    width = 0.8 / len(series)
    x = np.arange(len(datasets))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (column, metric) in zip(axes, enumerate(("uf1", "uar"))):
        for place, (method, whose) in enumerate(series):
            positions = x + (place - (len(series) - 1) / 2) * width
            colour, title = f"C{methods.index(method)}", method_title(method)
            if whose == "kit":
                rows = metrics[metrics["method"] == method].set_index("dataset").reindex(datasets)
                in_paper = "" if title in paper.TABLE5 else "; no row in the paper's Table 5"
                label = f"{title} (this kit{in_paper})"
                ax.bar(positions, rows[metric], width, yerr=rows.get(f"{metric}_std"), color=colour, label=label)
                continue
            printed = [paper.TABLE5[title].get(dataset, (np.nan, np.nan))[column] for dataset in datasets]
            face = to_rgba(colour, 0.3)
            label = f"{title} (paper's Table 5)"
            ax.bar(positions, printed, width, color=face, edgecolor=colour, hatch="///", label=label)
            _not_printed(ax, positions, printed)
        ax.set_xticks(x, [paper.DATASET_TITLES[d] for d in datasets])
        ax.set_title(metric.upper())
        ax.set_ylim(0, 1)
    return _finish(fig, "Table 5: each method run by this kit beside the paper's row for it", demo, metrics, axes[0])


def table5_plot(metrics: pd.DataFrame, path: Path, *, demo: bool) -> Path:
    return _save(table5_figure(metrics, demo=demo), path)


def sweep_figure(
    metrics: pd.DataFrame, parameter: str, *, demo: bool, title: str, paper_best=None, paper_accuracy=None
):
    """Accuracy / UF1 / UAR against a swept ``parameter`` (N or a), one line per dataset.

    ``paper_best``: the value the paper calls best (a dashed line). ``paper_accuracy``: ``{dataset:
    accuracy}`` the kit takes as the paper's point at ``paper_best`` (inferred: the abstract's
    accuracies, ``paper.INFERRED``), drawn on the accuracy panel in the colour of that dataset's line.
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, metric in zip(axes, ("accuracy", "uf1", "uar")):
        for dataset, rows in metrics.groupby("dataset", sort=False):
            rows = rows.sort_values(parameter)
            name = paper.DATASET_TITLES.get(dataset, dataset)
            line = ax.errorbar(
                rows[parameter], rows[metric], yerr=rows.get(f"{metric}_std"), marker="o", capsize=3, label=name
            )
            if metric == "accuracy" and paper_best is not None and dataset in (paper_accuracy or {}):
                colour = line.lines[0].get_color()
                label = f"{name}: the paper's accuracy, taken as its {parameter} = {paper_best} point (inferred)"
                ax.plot(paper_best, paper_accuracy[dataset], "*", markersize=12, color=colour, label=label)
        if paper_best is not None:
            ax.axvline(paper_best, color="grey", linestyle="--", label=f"the paper's best {parameter} ({paper_best})")
        ax.set_xlabel(parameter)
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    return _finish(fig, title, demo, metrics, axes[0])


def sweep_plot(
    metrics: pd.DataFrame,
    parameter: str,
    path: Path,
    *,
    demo: bool,
    title: str,
    paper_best=None,
    paper_accuracy=None,
) -> Path:
    figure = sweep_figure(
        metrics, parameter, demo=demo, title=title, paper_best=paper_best, paper_accuracy=paper_accuracy
    )
    return _save(figure, path)


def ablation_figure(metrics: pd.DataFrame, *, demo: bool):
    """Fig. 11: UF1 / UAR / accuracy bars per method; the paper's printed values (method 4's only) as
    stars on the bar of the same method and metric."""
    methods = list(paper.FIG11)
    rows = metrics.set_index("method").reindex([m for m in methods if m in set(metrics["method"])])
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(rows))
    for i, metric in enumerate(("uf1", "uar", "accuracy")):
        ax.bar(x + i * 0.27, rows[metric], 0.27, yerr=rows.get(f"{metric}_std"), label=f"{metric} (this kit)")
        printed = [paper.FIG11[m][metric] for m in rows.index]
        ax.scatter(
            x + i * 0.27,
            [np.nan if v is None else v for v in printed],
            marker="*",
            s=120,
            color="black",
            zorder=3,
            label="the paper's printed value" if i == 0 else None,
        )
    names = [f"method {methods.index(m) + 1}\n" + "\n".join(textwrap.wrap(method_title(m), 22)) for m in rows.index]
    ax.set_xticks(x + 0.27, names, fontsize=8)
    ax.set_ylim(0, 1)
    title = "Fig. 11 ablation on CASME II (methods 1-3 not printed in the paper)"
    return _finish(fig, title, demo, metrics, ax)


def ablation_plot(metrics: pd.DataFrame, path: Path, *, demo: bool) -> Path:
    return _save(ablation_figure(metrics, demo=demo), path)


FLOW_PANELS = (
    ("apex", "apex face crop", "gray"),
    ("vanilla_strain", "Farneback strain", "inferno"),
    ("improved_strain", "improved Farneback strain", "inferno"),
    ("vanilla_magnitude", "Farneback |flow|", "inferno"),
    ("improved_magnitude", "improved Farneback |flow|", "inferno"),
)


def flow_plot(maps: dict, path: Path, *, title: str, demo: bool, region: np.ndarray | None = None) -> Path:
    """Fig. 2/3: apex face, vanilla vs improved Farneback strain and magnitude (one colour scale per pair).

    ``region`` (the maps' size, values in [0, 1]): a known moving region, outlined on every panel.
    """
    fig, axes = plt.subplots(1, len(FLOW_PANELS), figsize=(3 * len(FLOW_PANELS), 3.4))
    for axis, (name, panel_title, cmap) in zip(axes, FLOW_PANELS):
        pair = name.replace("improved", "vanilla")  # same colour scale for vanilla and improved
        axis.imshow(maps[name], cmap=cmap, vmin=0, vmax=maps[pair].max() or 1)
        if region is not None and region.max() > 0.5:
            axis.contour(region, levels=[0.5], colors="cyan", linewidths=0.8)
        axis.set_title(panel_title, fontsize=9)
        axis.axis("off")
    fig.suptitle(title + (f"\n({DEMO_NOTE})" if demo else ""), fontsize=10)
    fig.tight_layout()
    write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
