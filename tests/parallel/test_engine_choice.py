"""parallel/engine_choice.py: which runs the fold-parallel engine takes, and how many folds fit one pass."""

import dataclasses

import pytest

from me_resnet.parallel.engine_choice import STATE_BUDGET_BYTES, choose_engine, folds_per_pass
from tests.parallel.test_engine import CONFIG


def test_choose_engine():
    assert choose_engine("ststnet", CONFIG) == "fold-parallel"
    assert choose_engine("ststnet", CONFIG, engine="per-fold") == "per-fold"
    assert choose_engine("me_resnet", CONFIG) == "per-fold"
    assert choose_engine("ststnet", dataclasses.replace(CONFIG, precision="mixed_bfloat16")) == "per-fold"
    with pytest.raises(ValueError, match="me_resnet"):
        choose_engine("me_resnet", CONFIG, engine="fold-parallel")
    with pytest.raises(ValueError, match="unknown engine"):
        choose_engine("ststnet", CONFIG, engine="fast")


def test_a_pass_holds_as_many_folds_as_their_state_fits_in_the_budget():
    """Per fold: ten float32 copies of the weights and three of a batch's activations."""
    per_fold = 4 * (10 * 1000 + 3 * 8 * 500)
    assert folds_per_pass(1000, 500, 8) == STATE_BUDGET_BYTES // per_fold
    assert folds_per_pass(1000, 500, 8, budget_bytes=per_fold * 3 + 1) == 3
    assert folds_per_pass(10**12, budget_bytes=1) == 1  # never fewer than one fold


def test_trains_fold_by_fold_names_the_runs_that_need_the_executors_workers():
    from me_resnet.parallel.engine_choice import trains_fold_by_fold

    assert trains_fold_by_fold(["me_resnet", "ststnet"])
    assert not trains_fold_by_fold(["ststnet", "off_apexnet"])  # the engine trains both in this process
    assert trains_fold_by_fold(["ststnet"], engine="per-fold")
    assert not trains_fold_by_fold([])
