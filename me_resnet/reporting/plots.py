"""Plots of the kit's results beside the paper's printed values (matplotlib, Agg); files written atomically."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from me_resnet.models.registry import method_title  # noqa: E402
from me_resnet.reporting import paper  # noqa: E402
from me_resnet.reporting.outputs import write_figure  # noqa: E402
from me_resnet.reporting.tables import how_run_by_method  # noqa: E402

DEMO_NOTE = "synthetic DEMO data — says nothing about the paper's claims"


def _finish(fig, path: Path, title: str, demo: bool, metrics: pd.DataFrame | None = None) -> Path:
    fig.suptitle(title + (f"\n({DEMO_NOTE})" if demo else ""), fontsize=10)
    how = "\n".join(f"{t}: {p}" for t, p in how_run_by_method(metrics).items()) if metrics is not None else ""
    fig.tight_layout()
    if how:  # below the axes, after tight_layout has placed them
        fig.subplots_adjust(bottom=fig.subplotpars.bottom + 0.06 * (how.count("\n") + 1))
        fig.text(0.01, 0.01, how, fontsize=7, ha="left", va="bottom", color="dimgrey")
    write_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def table5_plot(metrics: pd.DataFrame, path: Path, *, demo: bool) -> Path:
    """UF1 / UAR bars per dataset: each kit method beside the paper's ME-ResNet row."""
    datasets = [d for d in ("casme2", "smic", "samm", "composite") if d in set(metrics["dataset"])]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    methods = list(dict.fromkeys(metrics["method"]))
    width = 0.8 / (len(methods) + 1)
    x = np.arange(len(datasets))
    for ax, metric in zip(axes, ("uf1", "uar")):
        for i, method in enumerate(methods):
            rows = metrics[metrics["method"] == method].set_index("dataset").reindex(datasets)
            ax.bar(
                x + i * width,
                rows[metric],
                width,
                yerr=rows.get(f"{metric}_std"),
                label=f"{method_title(method)} (this kit)",
            )
        quoted = [paper.TABLE5["ME-ResNet"].get(d, (np.nan, np.nan))[0 if metric == "uf1" else 1] for d in datasets]
        ax.bar(x + len(methods) * width, quoted, width, color="grey", label="ME-ResNet (paper)")
        for position, value in zip(x + len(methods) * width, quoted):
            if np.isnan(value):
                ax.text(position, 0.02, "not printed", rotation=90, ha="center", va="bottom", fontsize=7, color="grey")
        ax.set_xticks(x + width * len(methods) / 2, [paper.DATASET_TITLES[d] for d in datasets])
        ax.set_title(metric.upper())
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    return _finish(fig, path, "Table 5: this kit vs the paper", demo, metrics)


def sweep_plot(metrics: pd.DataFrame, parameter: str, path: Path, *, demo: bool, title: str, paper_best=None) -> Path:
    """Accuracy / UF1 / UAR against a swept ``parameter`` (N or a), one line per dataset."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, metric in zip(axes, ("accuracy", "uf1", "uar")):
        for dataset, rows in metrics.groupby("dataset", sort=False):
            rows = rows.sort_values(parameter)
            ax.errorbar(
                rows[parameter],
                rows[metric],
                yerr=rows.get(f"{metric}_std"),
                marker="o",
                capsize=3,
                label=paper.DATASET_TITLES.get(dataset, dataset),
            )
        if paper_best is not None:
            ax.axvline(paper_best, color="grey", linestyle="--", label=f"paper's best ({paper_best})")
        ax.set_xlabel(parameter)
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    return _finish(fig, path, title, demo, metrics)


def ablation_plot(metrics: pd.DataFrame, path: Path, *, demo: bool) -> Path:
    """Fig. 11: UF1 / UAR / accuracy per method; the paper's printed method-4 values as markers."""
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
            label="paper (printed)" if i == 0 else None,
        )
    names = [f"method {methods.index(m) + 1}\n" + "\n".join(textwrap.wrap(method_title(m), 22)) for m in rows.index]
    ax.set_xticks(x + 0.27, names, fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    return _finish(fig, path, "Fig. 11 ablation on CASME II (methods 1-3 not printed in the paper)", demo, metrics)


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
