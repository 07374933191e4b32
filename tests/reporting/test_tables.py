"""reporting/tables.py: demo results carry the demo tag on every row or column compared with the paper."""

import pandas as pd

from me_resnet.reporting import paper, tables
from me_resnet.reporting.outputs import Coverage

ALL = ("casme2", "smic", "samm")
COMPLETE = Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=("me_resnet",))


def _metrics(methods):
    values = {"uf1": 0.5, "uar": 0.5, "accuracy": 0.6, "uf1_std": 0.0, "uar_std": 0.0, "accuracy_std": 0.0}
    return pd.DataFrame(
        {"method": method, "variant": "default", "dataset": dataset, "seeds": "0", "n": 10, "protocol": "p", **values}
        for method in methods
        for dataset in (*ALL, "composite")
    )


def test_table5_difference_rows_say_demo_data():
    metrics = _metrics(["me_resnet", "ststnet"])
    demo = tables.table5(metrics, demo=True, coverage=COMPLETE)["method"].tolist()
    real = tables.table5(metrics, demo=False, coverage=COMPLETE)["method"].tolist()
    differences = [row for row in demo if "this kit − paper" in row]
    assert differences == ["ME-ResNet: this kit − paper (DEMO data)", "STSTNet: this kit − paper (DEMO data)"]
    assert all("DEMO data" in row for row in demo if "run by this kit" in row)
    assert not any("DEMO" in row for row in real)
    assert "ME-ResNet: this kit − paper" in real


def test_fig11_difference_column_says_demo_data():
    metrics = _metrics(list(paper.FIG11))
    coverage = Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=tuple(paper.FIG11))
    assert "| this kit − paper (DEMO data) |" in tables.fig11_markdown(metrics, demo=True, coverage=coverage)
    text = tables.fig11_markdown(metrics, demo=False, coverage=coverage)
    assert "| this kit − paper |" in text and "DEMO data" not in text
