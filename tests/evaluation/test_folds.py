"""evaluation/folds.py: folds planned once (FoldPlan per scope), the LOSO splits, and the run's own indices."""

import numpy as np
import pytest

from me_resnet.evaluation.folds import (
    FoldPlan,
    FoldSelectionError,
    fold_indices,
    loso_splits,
    plan_folds,
    scope_groups,
)
from tests.support.tiny import tiny_features

GROUPS = ["casme2/sub01", "casme2/sub02", "casme2/sub03", "smic/s1", "smic/s2", "smic/s1"]


def groups_of(plans) -> dict:
    return {plan.scope: plan.groups for plan in plans}


def test_scopes_are_the_datasets_in_the_order_they_appear_or_one_composite():
    assert scope_groups(["smic/s2", "casme2/sub01", "smic/s1"], "dataset") == {
        "smic": ("smic/s1", "smic/s2"),
        "casme2": ("casme2/sub01",),
    }
    assert scope_groups(GROUPS, "composite") == {"composite": tuple(sorted(set(GROUPS)))}
    with pytest.raises(ValueError, match="loso_scope must be one of"):
        scope_groups(GROUPS, "datasets")


def test_every_fold_of_every_scope_without_a_selection():
    plans = plan_folds(GROUPS, "dataset")
    assert [plan.scope for plan in plans] == ["casme2", "smic"] and all(plan.complete for plan in plans)
    assert plans[1] == FoldPlan("smic", ("smic/s1", "smic/s2"), ("smic/s1", "smic/s2"))


def test_groups_select_folds_of_their_own_scope_only_and_indices_every_scope_that_has_them():
    assert groups_of(plan_folds(GROUPS, "dataset", ["casme2/sub02"])) == {"casme2": ("casme2/sub02",)}
    assert groups_of(plan_folds(GROUPS, "dataset", [0, "smic/s2"])) == {
        "casme2": ("casme2/sub01",),
        "smic": ("smic/s1", "smic/s2"),
    }
    assert groups_of(plan_folds(GROUPS, "dataset", [2])) == {"casme2": ("casme2/sub03",)}  # no fold 2 in smic
    composite = plan_folds(GROUPS, "composite", [3, "casme2/sub01", 3, np.int64(0)])
    assert groups_of(composite) == {"composite": ("casme2/sub01", "smic/s1")}  # fold order, each once
    assert not composite[0].complete


@pytest.mark.parametrize("folds", [["casme2/sub2"], ["sub01"], [3], ["casme2/sub01", "smic/s9"], [True]])
def test_a_fold_of_no_scope_is_an_error_listing_the_valid_names(folds):
    with pytest.raises(FoldSelectionError) as error:
        plan_folds(GROUPS, "dataset", folds)
    message = str(error.value)
    assert "casme2: 0-2 or casme2/sub01" in message and "smic: 0-1 or smic/s1, smic/s2" in message
    assert "--" not in message  # the library names values; the command line speaks of its flags
    assert error.value.loso_scope == "dataset" and error.value.unknown and error.value.valid in message


def test_an_index_valid_in_one_scope_only_is_checked_in_each_scope_before_any_run():
    """Index 4 is a fold of the composite LOSO (5 subjects) and of no per-dataset one."""
    assert groups_of(plan_folds(GROUPS[:5], "composite", [4])) == {"composite": ("smic/s2",)}
    with pytest.raises(FoldSelectionError, match=r"folds \[4\]"):
        plan_folds(GROUPS[:5], "dataset", [4])


def test_loso_splits_follow_the_sorted_groups_and_a_run_maps_a_plan_onto_them():
    features = tiny_features(subjects=4)
    splits = loso_splits(features)
    assert [group for group, _, _ in splits] == [f"casme2/00{k}" for k in range(4)]
    for group, train_index, test_index in splits:
        assert set(features.groups[test_index]) == {group} and group not in set(features.groups[train_index])
    (plan,) = plan_folds(features.groups, "composite", [3, "casme2/001"])
    assert fold_indices(splits, plan.groups) == [1, 3] and fold_indices(splits, None) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="casme2/009"):
        fold_indices(splits, ["casme2/009"])
    with pytest.raises(ValueError, match="at least 2 subjects"):
        loso_splits(tiny_features(subjects=1))
