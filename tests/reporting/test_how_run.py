"""Every table and plot says how the kit ran each method, pretraining included."""

import dataclasses

import pandas as pd

from me_resnet.config import DEMO
from me_resnet.evaluation.experiment import protocol_label
from me_resnet.reporting import plots, tables
from me_resnet.training.pretrain import NO_PRETRAINING_LABEL


def test_protocol_label_names_pretraining_for_the_methods_that_take_fer2013_weights():
    assert protocol_label(DEMO, "me_resnet").endswith(NO_PRETRAINING_LABEL)
    assert protocol_label(DEMO, "resnet50_image").endswith(NO_PRETRAINING_LABEL)
    assert "pretraining" not in protocol_label(DEMO, "ststnet")  # the baselines never take FER2013 weights
    with_weights = protocol_label(
        dataclasses.replace(DEMO, pretrained="/w/fer2013_resnet50_cbam.weights.h5"), "me_resnet"
    )
    assert "Fer2013-pretrained 2D weights inflated (fer2013_resnet50_cbam.weights.h5)" in with_weights
    assert NO_PRETRAINING_LABEL not in with_weights


def _metrics():
    rows = []
    for method in ("resnet50_image", "resnet50_flow", "resnet3d_flow", "me_resnet"):
        rows.append(
            {
                "method": method,
                "dataset": "casme2",
                "uf1": 0.5,
                "uar": 0.5,
                "accuracy": 0.5,
                "seeds": "0",
                "protocol": protocol_label(DEMO, method),
            }
        )
    return pd.DataFrame(rows)


def test_fig11_markdown_and_plot_carry_the_pretraining_label(tmp_path, monkeypatch):
    metrics = _metrics()
    text = tables.fig11_markdown(metrics, demo=True)
    assert text.count(NO_PRETRAINING_LABEL) == 4 and "How the kit ran ME-ResNet" in text

    drawn = []
    monkeypatch.setattr(
        plots, "write_figure", lambda fig, path, **savefig: drawn.append([t.get_text() for t in fig.texts])
    )
    plots.ablation_plot(metrics, tmp_path / "fig11.png", demo=True)
    (footer,) = [text for text in drawn[0] if "How" not in text and "ME-ResNet:" in text]
    assert footer.count(NO_PRETRAINING_LABEL) == 4
