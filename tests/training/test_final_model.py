"""One model trained on every clip (me_resnet/training/final_model.py): refusals and the data summary.

A trained final model, its card and its early stopping on held-out subjects are in ``test_model_card.py``.
"""

import dataclasses

import numpy as np
import pytest

from me_resnet.data.records import Features
from me_resnet.training.final_model import dataset_summary, train_final_model
from tests.support.tiny import TINY, tiny_build, tiny_features


def test_early_stopping_on_a_test_subject_is_refused():
    with pytest.raises(ValueError, match="a final model has none"):
        train_final_model(tiny_features(), dataclasses.replace(TINY, early_stop_on="test"), build_fn=tiny_build)


def test_no_clips_is_refused():
    with pytest.raises(ValueError, match="at least one clip, got none"):
        train_final_model(tiny_features().subset(np.array([], int)), dataclasses.replace(TINY, early_stop_on="none"))


def test_dataset_summary_counts_clips_subjects_and_classes_per_dataset_in_order():
    samm = tiny_features(subjects=2, clips=2, dataset="samm")  # labels 0 1 2 0
    casme2 = tiny_features(subjects=1, clips=2, dataset="casme2")  # labels 0 1
    both = Features.concatenate([samm, casme2])
    both.y = np.array([0, 1, 2, 0, 1, 1])
    assert dataset_summary(both) == {
        "samm": {"clips": 4, "subjects": 2, "clips_per_class": {"negative": 2, "positive": 1, "surprise": 1}},
        "casme2": {"clips": 2, "subjects": 1, "clips_per_class": {"negative": 0, "positive": 2, "surprise": 0}},
    }
