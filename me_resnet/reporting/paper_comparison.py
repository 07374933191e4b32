"""The kit's metrics beside the paper's printed numbers: figures and a difference table (notebook 03).

Values the paper only draws are ``paper.NOT_PRINTED`` and are shown as "not printed", never estimated.
Figures are returned (not saved, not shown), so a notebook displays them and a script may save them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from me_resnet.models.registry import method_title
from me_resnet.reporting import paper

TABLE5_DATASETS = ("casme2", "smic", "samm", "composite")
DATASET_COLOURS = {"casme2": "C0", "smic": "C1", "samm": "C2", "composite": "C3"}
PAPER_METHOD = "ME-ResNet"  # the paper's own row of Table 5


def _title(dataset: str) -> str:
    return paper.DATASET_TITLES.get(dataset, dataset)


def _paper_value(method_title: str, dataset: str, metric: str) -> float | None:
    """UF1 or UAR of one printed Table 5 cell; ``None`` when the paper prints no such cell."""
    pair = paper.TABLE5.get(method_title, {}).get(dataset)
    return None if pair is None else pair[("uf1", "uar").index(metric)]


def table5_differences(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (kit method, dataset, metric): the kit's value, the paper's printed value, kit − paper.

    A method is compared with the Table 5 row of the same title (``MethodSpec.title``); cells the paper
    does not print show "not printed" and no difference.
    """
    rows = []
    for _, row in metrics.iterrows():
        for metric in ("uf1", "uar"):
            quoted = _paper_value(method_title(row["method"]), row["dataset"], metric)
            rows.append(
                {
                    "method": row["method"],
                    "dataset": _title(row["dataset"]),
                    "metric": metric.upper(),
                    "this kit": round(row[metric], 4),
                    "paper": "not printed" if quoted is None else quoted,
                    "kit − paper": "" if quoted is None else round(row[metric] - quoted, 4),
                }
            )
    return pd.DataFrame(rows).set_index(["method", "dataset", "metric"])


def table5_figure(metrics: pd.DataFrame | None, data_label: str = "DEMO data") -> plt.Figure:
    """UF1 / UAR bars per dataset: the paper's ME-ResNet row (grey) and each kit method (colour).

    ``metrics`` is a ``table5`` metrics table (``None``: only the paper's bars). Datasets a method was not
    run on are marked "not run"; the composite, which the paper does not print, "not printed".
    """
    methods = [] if metrics is None else list(dict.fromkeys(metrics["method"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    x = np.arange(len(TABLE5_DATASETS))
    width = 0.8 / (len(methods) + 1)
    for ax, metric in zip(axes, ("uf1", "uar")):
        printed = [_paper_value(PAPER_METHOD, d, metric) for d in TABLE5_DATASETS]
        ax.bar(
            x, [np.nan if v is None else v for v in printed], width, color="grey", label="ME-ResNet, paper (printed)"
        )
        for position, value in zip(x, printed):
            if value is None:
                ax.text(position, 0.02, "not printed", rotation=90, ha="center", va="bottom")
        for i, method in enumerate(methods, start=1):
            ours = metrics[metrics["method"] == method].set_index("dataset").reindex(list(TABLE5_DATASETS))
            label = f"{method}, this kit ({data_label})"
            ax.bar(x + i * width, ours[metric], width, yerr=ours.get(f"{metric}_std"), label=label)
            for position in np.flatnonzero(ours[metric].isna().to_numpy()):
                ax.text(x[position] + i * width, 0.02, "not run", rotation=90, ha="center", va="bottom")
        ax.set_xticks(x + width * len(methods) / 2, [_title(d) for d in TABLE5_DATASETS])
        ax.set_ylim(0, 1)
        ax.set_title(metric.upper())
    axes[0].legend(loc="upper right")
    fig.suptitle(f"Table 5 — the kit's numbers are on {data_label}")
    fig.tight_layout()
    return fig


def sweep_axes(ax, metrics: pd.DataFrame | None, parameter: str, paper_best: float, data_label: str = "DEMO") -> None:
    """Draw accuracy against ``parameter`` (N or a) on ``ax``, one line per dataset, and as stars the abstract's
    accuracies placed at the paper's best value: the paper prints no point of Fig. 9 / 10, and reading the
    abstract's numbers as those points is an inference (``paper.INFERRED``)."""
    if metrics is not None:
        for dataset, part in metrics.groupby("dataset", sort=False):
            part = part.sort_values(parameter)
            ax.errorbar(
                part[parameter],
                part["accuracy"],
                yerr=part.get("accuracy_std"),
                marker="o",
                capsize=3,
                color=DATASET_COLOURS.get(dataset),
                label=f"{_title(dataset)}, this kit ({data_label})",
            )
    for dataset, accuracy in paper.ACCURACY.items():
        ax.scatter(
            [paper_best],
            [accuracy],
            marker="*",
            s=160,
            color=DATASET_COLOURS[dataset],
            edgecolor="black",
            zorder=3,
            label=f"{_title(dataset)}, paper's abstract, placed at {paper_best} (inferred)",
        )
    ax.set_ylim(0, 1)


def ablation_figure(metrics: pd.DataFrame | None, data_label: str = "DEMO") -> plt.Figure:
    """Fig. 11: UF1 / UAR / accuracy of the four Table 4 methods on CASME II, the paper's printed values as
    stars; methods whose values the paper does not print are marked so."""
    order = list(paper.FIG11)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = np.arange(len(order))
    for i, metric in enumerate(("uf1", "uar", "accuracy")):
        if metrics is not None:
            ours = metrics[metrics["dataset"] == "casme2"].set_index("method").reindex(order)
            ax.bar(x + i * 0.27, ours[metric], 0.27, color=f"C{i}", label=f"{metric}, this kit ({data_label})")
        printed = [paper.FIG11[method][metric] for method in order]
        ax.scatter(
            x + i * 0.27,
            [np.nan if value is None else value for value in printed],
            marker="*",
            s=160,
            color=f"C{i}",
            edgecolor="black",
            zorder=3,
            label=f"{metric}, paper (printed)",
        )
    for position, method in enumerate(order):
        if all(value is None for value in paper.FIG11[method].values()):
            ax.text(position + 0.27, 0.95, "paper: not printed", ha="center", va="top")
    ax.set_xticks(x + 0.27, [f"method {i + 1}\n{method}" for i, method in enumerate(order)])
    ax.set_ylim(0, 1)
    ax.legend(loc="center left", fontsize=6, bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig
