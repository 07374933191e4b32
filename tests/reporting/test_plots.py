"""What the result figures draw: each kit series beside its own paper values, legends off the data."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from me_resnet.reporting import paper, plots

DATASETS = ("casme2", "smic", "samm", "composite")


def table5_metrics(methods):
    rows = [
        {"method": method, "dataset": dataset, "uf1": 0.5 + 0.01 * i, "uar": 0.6 + 0.01 * i, "accuracy": 0.7}
        for i, (method, dataset) in enumerate((m, d) for m in methods for d in DATASETS)
    ]
    return pd.DataFrame(rows)


def bars(axis) -> dict[str, list[float]]:
    """``{label: heights}`` of the bar series drawn on ``axis``."""
    return {
        container.get_label(): [patch.get_height() for patch in container.patches]
        for container in axis.containers
        if isinstance(container, BarContainer)
    }


def printed(title, column):
    return [paper.TABLE5[title].get(dataset, (np.nan, np.nan))[column] for dataset in DATASETS]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_a_ststnet_run_is_drawn_beside_ststnets_printed_row_only():
    figure = plots.table5_figure(table5_metrics(["ststnet"]), demo=True)
    for axis, column in zip(figure.axes, (0, 1)):
        drawn = bars(axis)
        assert list(drawn) == ["STSTNet (this kit)", "STSTNet (paper's Table 5)"]
        np.testing.assert_array_equal(drawn["STSTNet (paper's Table 5)"], printed("STSTNet", column))
    assert not any("ME-ResNet" in text.get_text() for text in figure.legends[0].get_texts())


def test_every_method_is_paired_with_its_own_row_and_a_method_without_one_stands_alone():
    metrics = table5_metrics(["me_resnet", "off_apexnet", "resnet50_image"])
    drawn = bars(plots.table5_figure(metrics, demo=False).axes[1])  # UAR
    assert list(drawn) == [
        "ME-ResNet (this kit)",
        "ME-ResNet (paper's Table 5)",
        "OFF-ApexNet (this kit)",
        "OFF-ApexNet (paper's Table 5)",
        "ResNet50 (2D, apex image) (this kit; no row in the paper's Table 5)",
    ]
    np.testing.assert_array_equal(drawn["ME-ResNet (paper's Table 5)"], printed("ME-ResNet", 1))
    np.testing.assert_array_equal(drawn["OFF-ApexNet (paper's Table 5)"], printed("OFF-ApexNet", 1))
    kit = metrics[metrics["method"] == "off_apexnet"].set_index("dataset").loc[list(DATASETS), "uar"]
    np.testing.assert_allclose(drawn["OFF-ApexNet (this kit)"], kit)


def sweep_metrics():
    rows = [
        {"dataset": dataset, "num_frames": n, "accuracy": 0.5 + 0.02 * n, "uf1": 0.5, "uar": 0.5}
        for dataset in DATASETS
        for n in (3, 7, 11)
    ]
    return pd.DataFrame(rows)


def test_a_sweep_marks_each_datasets_paper_point_in_the_colour_of_its_own_line():
    figure = plots.sweep_figure(
        sweep_metrics(), "num_frames", demo=False, title="Fig. 9", paper_best=11, paper_accuracy=paper.ACCURACY
    )
    accuracy = figure.axes[0]
    colours = {series.get_label(): series.lines[0].get_color() for series in accuracy.containers}
    stars = [line for line in accuracy.lines if line.get_marker() == "*"]
    assert len(stars) == 3  # the paper gives no composite accuracy
    for star in stars:
        dataset = next(key for key, title in paper.DATASET_TITLES.items() if star.get_label().startswith(title))
        assert star.get_color() == colours[paper.DATASET_TITLES[dataset]]
        assert (star.get_xdata()[0], star.get_ydata()[0]) == (11, paper.ACCURACY[dataset])
    assert not any(line.get_marker() == "*" for axis in figure.axes[1:] for line in axis.lines)  # UF1/UAR: none


def test_the_ablations_printed_values_sit_on_method_4s_own_bars():
    rows = [{"method": m, "dataset": "casme2", "uf1": 0.4, "uar": 0.5, "accuracy": 0.6} for m in paper.FIG11]
    axis = plots.ablation_figure(pd.DataFrame(rows), demo=False).axes[0]
    series = [c for c in axis.containers if isinstance(c, BarContainer)]
    assert len(axis.collections) == len(series) == 3  # one set of stars per metric's bars
    for metric, stars, container in zip(("uf1", "uar", "accuracy"), axis.collections, series):
        offsets = stars.get_offsets().filled(np.nan)
        drawn = ~np.isnan(offsets[:, 1])
        assert [m for m, shown in zip(paper.FIG11, drawn) if shown] == ["me_resnet"]  # methods 1-3: not printed
        centres = np.array([bar.get_x() + bar.get_width() / 2 for bar in container])
        np.testing.assert_allclose(offsets[drawn, 0], centres[drawn])  # on its own method's bar of this metric
        assert offsets[drawn, 1] == [paper.FIG11["me_resnet"][metric]]


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.table5_figure(table5_metrics(["me_resnet", "ststnet", "off_apexnet"]), demo=True),
        lambda: plots.sweep_figure(sweep_metrics(), "num_frames", demo=True, title="t", paper_best=11),
        lambda: plots.ablation_figure(table5_metrics(list(paper.FIG11)).query("dataset == 'casme2'"), demo=True),
    ],
)
def test_the_legend_covers_no_axes(draw):
    figure = draw()
    figure.canvas.draw()
    (legend,) = figure.legends
    assert all(axis.get_legend() is None for axis in figure.axes)
    box = legend.get_window_extent()
    assert not any(box.overlaps(axis.get_window_extent()) for axis in figure.axes)


def test_the_plot_files_hold_the_legend(tmp_path):
    path = plots.table5_plot(table5_metrics(["ststnet"]), tmp_path / "table5.png", demo=False)
    width, height = matplotlib.image.imread(path).shape[1::-1]
    assert width > 10 * 110 and height > 0  # wider than the 10-inch axes: the legend beside them is kept
