"""The experiment API: runs per planned scope and seed, run-dir identity, metrics over seeds (by value)."""

import dataclasses
import json
import statistics

import numpy as np
import pandas as pd
import pytest

from me_resnet.data.records import Features
from me_resnet.evaluation import experiment, identity
from me_resnet.evaluation import run_dir as run_dir_module
from me_resnet.evaluation.experiment import RunOptions
from me_resnet.evaluation.folds import FoldSelectionError, plan_folds
from me_resnet.evaluation.loso import run_loso
from me_resnet.evaluation.run_dir import RunDirMismatch
from tests.support.tiny import FAST, tiny_build, tiny_features


def two_datasets() -> Features:
    return Features.concatenate(
        [tiny_features(subjects=3, dataset="casme2"), tiny_features(subjects=2, dataset="smic")]
    )


def test_runs_are_planned_for_the_scopes_that_hold_a_selected_fold_only(tmp_path):
    features = two_datasets()
    plans = plan_folds(features.groups, FAST.loso_scope, ["smic/001"])
    options = RunOptions(seeds=(0, 1), run_root=tmp_path)
    planned = experiment.plan_runs(features, "tiny", FAST, plans=plans, options=options, label="check")
    assert [(columns["seed"], run.features.datasets[0]) for run, columns in planned] == [(0, "smic"), (1, "smic")]
    assert [len(run.jobs) for run, _ in planned] == [1, 1]
    run_dir = planned[0][0].run_dir
    assert run_dir.parent == tmp_path / "tiny" / "check" / "smic"
    assert f"-code{identity.code_fingerprint()}-stack{identity.stack_hash()}-data" in run_dir.name
    for run, _ in planned:
        run.close()
    with pytest.raises(FoldSelectionError):
        experiment.run_method(features, "tiny", FAST, options=RunOptions(folds=("casme2/007",)))
    composite = plan_folds(features.groups, "composite")
    with pytest.raises(ValueError, match="fold plans for scopes \\['composite'\\]"):
        experiment.plan_runs(features, "tiny", FAST, plans=composite, options=options)  # a plan of another scope


def test_run_method_and_metrics_over_seeds(monkeypatch):
    monkeypatch.setattr("me_resnet.training.fold.default_build_fn", tiny_build)
    features = tiny_features(subjects=3)
    predictions = experiment.run_method(features, "tiny", FAST, options=RunOptions(seeds=(0, 1), folds=(0,)))
    assert set(predictions["seed"]) == {0, 1} and set(predictions["method"]) == {"tiny"}
    assert len(predictions) == 2 * int(np.sum(features.groups == "casme2/000"))
    metrics = experiment.metrics_over_seeds(predictions, FAST)
    assert set(metrics["seeds"]) == {"0 1"} and {"uf1", "uf1_std", "uar", "accuracy"} <= set(metrics.columns)


def test_the_mean_and_std_over_seeds_that_table5_reports_equal_a_hand_computation():
    """Six clips, two of each class; three seeds' predictions whose scores are worked out by hand."""
    truth = [0, 0, 1, 1, 2, 2]
    predicted = {0: truth, 1: [0, 1, 1, 1, 2, 0], 2: [0] * 6}
    # seed 1: F1 per class 2/4, 4/5, 2/3 and recall 1/2, 1, 1/2; seed 2: F1 4/8, 0, 0 and recall 1, 0, 0
    by_hand = {
        "accuracy": [1.0, 4 / 6, 2 / 6],
        "uf1": [1.0, (1 / 2 + 4 / 5 + 2 / 3) / 3, (1 / 2) / 3],
        "uar": [1.0, (1 / 2 + 1 + 1 / 2) / 3, 1 / 3],
    }
    predictions = pd.concat(
        pd.DataFrame(
            {
                "dataset": "casme2",
                "subject": ["s1", "s1", "s2", "s2", "s3", "s3"],
                "y_true": truth,
                "y_pred": guesses,
                "seed": seed,
                "method": "me_resnet",
                "variant": "default",
            }
        )
        for seed, guesses in predicted.items()
    )
    metrics = experiment.metrics_over_seeds(predictions, dataclasses.replace(FAST, bootstrap_resamples=0))
    row = metrics.set_index("dataset").loc["casme2"]
    assert row["seeds"] == "0 1 2" and row["n"] == 6
    for name, values in by_hand.items():
        assert row[name] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert row[f"{name}_std"] == pytest.approx(statistics.stdev(values), abs=1e-12)  # ddof=1, over seeds
    assert row["uf1"] == pytest.approx((1 + 59 / 90 + 1 / 6) / 3) and row["uf1_std"] == pytest.approx(
        0.418748, abs=1e-6
    )


def test_other_features_or_weights_run_in_their_own_directory_and_the_same_ones_resume(tmp_path, monkeypatch):
    monkeypatch.setattr("me_resnet.training.fold.default_build_fn", tiny_build)
    weights = tmp_path / "pretrained.keras"
    weights.write_bytes(b"weights of the first pretraining")
    config = dataclasses.replace(FAST, pretrained=str(weights))
    runs = tmp_path / "runs" / "tiny" / "default" / "casme2"

    def run(features) -> str:
        """Run fold 0 as the CLI does; the name of the run directory holding its fold file."""
        options = RunOptions(folds=(0,), run_root=tmp_path / "runs")
        experiment.run_method(features, "tiny", config, options=options)
        plans = plan_folds(features.groups, config.loso_scope, options.folds)
        (planned,) = experiment.plan_runs(features, "tiny", config, plans=plans, options=options)
        planned[0].close()
        assert planned[0].jobs == []  # finished: a rerun resumes it
        return planned[0].run_dir.name

    def fold_files() -> int:
        return len(list(runs.rglob("fold_*.csv")))

    features = tiny_features(subjects=3)
    first = run(features)
    assert run(features) == first and fold_files() == 1  # the same data and weights: resumed, not retrained
    fixed = tiny_features(subjects=3)
    fixed.X[0, 0, 0, 0] += 0.5  # one frame of one clip fixed
    other = tiny_features(subjects=3, seed=7)  # the same config on other data
    weights_before = weights.read_bytes()
    names = {first, run(fixed), run(other)}
    weights.write_bytes(b"weights of a second pretraining, same path")
    names.add(run(features))
    assert len(names) == 4 and fold_files() == 4 and sorted(path.name for path in runs.iterdir()) == sorted(names)
    weights.write_bytes(weights_before)
    assert run(features) == first and fold_files() == 4  # each resumes its own


def test_a_new_library_stack_gives_a_new_run_directory(tmp_path, monkeypatch):
    features = tiny_features(subjects=3)
    plans, options = plan_folds(features.groups, FAST.loso_scope), RunOptions(run_root=tmp_path)
    (before,) = experiment.plan_runs(features, "tiny", FAST, plans=plans, options=options)
    before[0].close()
    upgraded = identity.stack_versions() | {"tensorflow": "99.0"}
    monkeypatch.setattr(identity, "stack_versions", lambda: upgraded)
    monkeypatch.setattr(run_dir_module, "stack_versions", lambda: upgraded)
    (after,) = experiment.plan_runs(features, "tiny", FAST, plans=plans, options=options)
    after[0].close()
    assert after[0].run_dir != before[0].run_dir and after[0].run_dir.parent == before[0].run_dir.parent
    identity_file = json.loads((after[0].run_dir / "config.json").read_text())
    assert identity_file["stack"]["tensorflow"] == "99.0" and identity_file["stack"]["backend"]


def test_a_run_dir_of_another_run_is_refused_in_one_line_saying_what_changed_and_what_to_do(tmp_path):
    run_loso(tiny_features(subjects=3), "tiny", FAST, run_dir=tmp_path, folds=[0], build_fn=tiny_build, progress=False)
    with pytest.raises(RunDirMismatch) as error:
        run_loso(tiny_features(subjects=3, seed=1), "tiny", FAST, run_dir=tmp_path, build_fn=tiny_build)
    message = str(error.value)
    assert "features.x_hash" in message and "delete that directory" in message and "\n" not in message
