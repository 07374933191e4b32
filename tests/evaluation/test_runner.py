"""The LOSO runner's fold files (me_resnet/evaluation/runner.py): what a fold writes and reads back.

Whole runs through ``LosoRun`` (resume, leakage guard, manifest) are in ``test_loso.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from me_resnet.config import DEMO
from me_resnet.evaluation import runner
from me_resnet.evaluation.folds import FoldSplit
from me_resnet.evaluation.run_dir import PREDICTION_COLUMNS, fold_file
from me_resnet.training.fold import FoldResult
from tests.support.tiny import tiny_features

PROBABILITIES = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]], np.float32)


@pytest.fixture
def fold():
    features = tiny_features(subjects=3, clips=4)
    split = FoldSplit(1, "casme2/001", np.arange(0, 4), np.arange(8, 12), np.arange(4, 8))
    result = FoldResult(
        PROBABILITIES, 7, 5, (), (), (), (), np.zeros(3), np.ones(3), None, ("surprise",), wall_seconds=1.23456
    )
    return features, split, result


def test_a_row_per_test_clip_with_the_argmax_and_the_run_settings(fold):
    features, split, result = fold
    table = runner.fold_table(features, split, result, model_name="me_resnet", config=DEMO)
    assert tuple(table.columns) == PREDICTION_COLUMNS
    assert table["clip"].tolist() == ["c4", "c5", "c6", "c7"] and set(table["subject"]) == {"001"}
    assert table["y_pred"].tolist() == [1, 0, 2, 2]
    np.testing.assert_array_equal(table[["prob_negative", "prob_positive", "prob_surprise"]], PROBABILITIES)
    assert set(table["fold"]) == {1} and set(table["seed"]) == {DEMO.seed} and set(table["epochs_trained"]) == {7}
    assert not table["optimistic"].any()
    leaky = dataclasses.replace(DEMO, augment=True, augment_scope="whole_dataset")
    assert runner.fold_table(features, split, result, model_name="m", config=leaky)["optimistic"].all()
    monitored_test = dataclasses.replace(DEMO, early_stop_on="test")
    assert runner.fold_table(features, split, result, model_name="m", config=monitored_test)["optimistic"].all()


def test_fold_info_names_the_validation_subjects_and_rounds_the_time(fold):
    features, split, result = fold
    info = runner.fold_info(features, split, result)
    assert info == {
        "fold": 1,
        "group": "casme2/001",
        "n_test": 4,
        "n_fit": 4,
        "validation_subjects": ["casme2/002"],
        "epochs_trained": 7,
        "best_epoch": 5,
        "wall_seconds": 1.235,
        "missing_train_classes": ["surprise"],
        "resumed": False,
    }
    no_validation = dataclasses.replace(split, val_index=None)
    assert runner.fold_info(features, no_validation, result)["validation_subjects"] == []


def test_write_fold_reads_back_what_it_wrote(fold, tmp_path):
    features, split, result = fold
    table = runner.fold_table(features, split, result, model_name="m", config=DEMO)
    info = runner.fold_info(features, split, result)
    again = runner.write_fold(tmp_path, table, info, features.clips[split.test_index])
    pd.testing.assert_frame_equal(again, table, check_dtype=False)  # float32 probabilities come back float64
    path = fold_file(tmp_path, 1, "casme2/001")
    assert json.loads(path.with_suffix(".json").read_text()) == info


def test_loader_notes_keep_only_the_datasets_present(fold):
    features = fold[0]
    features.info["loader"] = {"casme2": {"dropped": 1}, "samm": {"dropped": 2}}
    assert runner.loader_notes(features) == {"casme2": {"dropped": 1}}
