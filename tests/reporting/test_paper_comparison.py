"""me_resnet/reporting/paper_comparison.py: the kit beside the paper's printed numbers, never invented ones."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from me_resnet.reporting import paper  # noqa: E402
from me_resnet.reporting.paper_comparison import (  # noqa: E402
    ablation_figure,
    sweep_axes,
    table5_differences,
    table5_figure,
)

METRICS = pd.DataFrame(
    {
        "method": ["me_resnet", "me_resnet", "resnet50_flow"],
        "dataset": ["casme2", "composite", "casme2"],
        "uf1": [0.9, 0.8, 0.6],
        "uar": [0.85, 0.75, 0.55],
        "uf1_std": [0.0, 0.0, 0.0],
        "uar_std": [0.0, 0.0, 0.0],
    }
)


def _texts(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_differences_use_the_printed_row_of_the_same_method():
    table = table5_differences(METRICS)
    printed_uf1, printed_uar = paper.TABLE5["ME-ResNet"]["casme2"]
    row = table.loc[("me_resnet", "CASME II", "UF1")]
    assert row["paper"] == printed_uf1 and row["kit − paper"] == pytest.approx(0.9 - printed_uf1, abs=1e-4)
    assert table.loc[("me_resnet", "CASME II", "UAR"), "paper"] == printed_uar
    # the paper prints no composite value, and no Table 5 row for a Table 4 ablation method
    for key in (("me_resnet", "Composite", "UF1"), ("resnet50_flow", "CASME II", "UAR")):
        assert table.loc[key, "paper"] == "not printed" and table.loc[key, "kit − paper"] == ""
    assert len(table) == 2 * len(METRICS)


def test_table5_figure_marks_unprinted_and_unrun_cells():
    fig = table5_figure(METRICS)
    texts = _texts(fig)
    assert texts.count("not printed") == 2  # the composite, on the UF1 and the UAR axes
    # per axis: me_resnet not run on smic, samm; resnet50_flow not run on smic, samm, composite
    assert texts.count("not run") == 2 * (2 + 3)
    plt.close(fig)
    fig = table5_figure(None)  # no results yet: the paper's bars alone
    assert len(fig.axes[0].patches) == 4 and _texts(fig).count("not run") == 0
    plt.close(fig)


def test_sweep_axes_draw_only_the_printed_paper_points():
    metrics = pd.DataFrame({"dataset": ["casme2"] * 2, "num_frames": [11, 3], "accuracy": [0.5, 0.4]})
    fig, ax = plt.subplots()
    sweep_axes(ax, metrics, "num_frames", paper.FIG9_PRINTED["best_num_frames"])
    (line,) = ax.lines
    assert line.get_xdata().tolist() == [3, 11]  # sorted by the swept value
    stars = [collection.get_offsets().tolist() for collection in ax.collections if len(collection.get_offsets()) == 1]
    assert sorted(point for (point,) in stars) == sorted([[11, value] for value in paper.ACCURACY.values()])
    plt.close(fig)


def test_ablation_figure_says_which_methods_the_paper_does_not_print():
    unprinted = sum(all(v is None for v in values.values()) for values in paper.FIG11.values())
    fig = ablation_figure(None)
    assert _texts(fig).count("paper: not printed") == unprinted
    plt.close(fig)
