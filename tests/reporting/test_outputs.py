"""Result files: atomic, labelled with what they cover; partial results never replace complete ones."""

import json
from pathlib import Path

import pandas as pd
import pytest

from me_resnet.config import DEMO
from me_resnet.reporting import tables
from me_resnet.reporting.outputs import Coverage, ResultExistsError, check_replace, output_dir, write_results

ALL = ("casme2", "smic", "samm")
COMPLETE = Coverage(datasets=ALL, required=ALL, seeds=(0, 1), methods=("me_resnet",))
ONE_FOLD = Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=("me_resnet",), folds=("casme2/sub01",))
ONE_DATASET = Coverage(datasets=("casme2",), required=ALL, seeds=(0,), methods=("me_resnet",))


def metrics_table(method="me_resnet"):
    rows = [
        {"method": method, "variant": "default", "dataset": d, "seeds": "0", "n": 10, "protocol": "p", **values}
        for d in ("casme2", "smic", "samm", "composite")
        for values in [{"uf1": 0.5, "uar": 0.5, "accuracy": 0.6, "uf1_std": 0.0, "uar_std": 0.0, "accuracy_std": 0.0}]
    ]
    return pd.DataFrame(rows)


def write(out, coverage):
    predictions = pd.DataFrame({"clip": ["a"], "y_true": [0], "y_pred": [0]})
    return write_results(
        out, "table5", predictions, metrics_table(), config=DEMO, data="demo", dataset_roots={}, coverage=coverage
    )


def test_coverage_says_what_is_partial():
    assert COMPLETE.complete and not ONE_FOLD.complete and not ONE_DATASET.complete
    assert "only folds casme2/sub01" in ONE_FOLD.describe() and "(not smic, samm)" in ONE_DATASET.describe()
    base = Path("results/table5")
    assert output_dir(base, COMPLETE) == base
    assert output_dir(base, ONE_FOLD) == base / "partial-folds-casme2_sub01"
    assert output_dir(base, ONE_DATASET) == base / "partial-datasets-casme2"


def test_metrics_json_records_the_coverage_and_no_temp_files_remain(tmp_path):
    paths = write(tmp_path, ONE_FOLD)
    document = json.loads(paths["metrics_json"].read_text())
    assert document["coverage"]["complete"] is False and document["coverage"]["folds"] == ["casme2/sub01"]
    assert document["config"]["epochs"] == DEMO.epochs and "provenance" in document
    names = sorted(p.name for p in tmp_path.iterdir())  # the result's files and their list, no temporary file
    assert names == [".me_resnet_result.json", "metrics.csv", "metrics.json", "predictions.csv"]


def test_a_complete_result_is_not_replaced_by_less(tmp_path):
    write(tmp_path, COMPLETE)
    for smaller in (ONE_FOLD, ONE_DATASET, Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=("me_resnet",))):
        with pytest.raises(ResultExistsError, match="force=True"):
            check_replace(tmp_path, smaller)
        check_replace(tmp_path, smaller, force=True)
    check_replace(tmp_path, Coverage(datasets=ALL, required=ALL, seeds=(0, 1, 2), methods=("me_resnet", "ststnet")))
    write(tmp_path / "partial", ONE_FOLD)
    check_replace(tmp_path / "partial", ONE_DATASET)  # a partial result may be replaced


def test_a_result_written_before_coverage_was_recorded_counts_as_complete(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": metrics_table().to_dict("records")}))
    with pytest.raises(ResultExistsError):
        check_replace(tmp_path, ONE_FOLD)
    check_replace(tmp_path, Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=("me_resnet",)))


def test_partial_tables_say_so_and_show_no_differences_with_the_paper():
    metrics = metrics_table()
    full = tables.table5(metrics, demo=False, coverage=COMPLETE)
    partial = tables.table5(metrics, demo=False, coverage=ONE_FOLD)
    assert any("this kit − paper" in row for row in full["method"])
    assert not any("this kit − paper" in row for row in partial["method"])
    assert "PARTIAL" in partial["method"].iloc[0]
    text = tables.table5_markdown(partial, metrics, demo=False, coverage=ONE_FOLD)
    assert "Partial result: only folds casme2/sub01" in text
    assert "Partial result" not in tables.table5_markdown(full, metrics, demo=False, coverage=COMPLETE)
