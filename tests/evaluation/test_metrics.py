import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from me_resnet.evaluation.metrics import (
    bootstrap_interval,
    compute_metrics,
    confusion,
    per_subject_metrics,
    uf1_uar_from_confusion,
)


def table(y_true, y_pred, subjects, dataset="casme2"):
    return pd.DataFrame({"dataset": dataset, "subject": subjects, "y_true": y_true, "y_pred": y_pred})


def random_predictions(seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for dataset, n, subjects in (("casme2", 60, 8), ("samm", 40, 5)):
        parts.append(
            table(
                rng.integers(0, 3, n), rng.integers(0, 3, n), [f"s{k}" for k in rng.integers(0, subjects, n)], dataset
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_equal_to_sklearn_on_random_predictions():
    predictions = random_predictions()
    metrics = compute_metrics(predictions, bootstrap_resamples=50).set_index("dataset")
    for dataset, part in list(predictions.groupby("dataset")) + [("composite", predictions)]:
        row = metrics.loc[dataset]
        assert row["n"] == len(part)
        assert row["accuracy"] == pytest.approx(accuracy_score(part.y_true, part.y_pred))
        assert row["uf1"] == pytest.approx(f1_score(part.y_true, part.y_pred, average="macro"))
        assert row["uar"] == pytest.approx(recall_score(part.y_true, part.y_pred, average="macro"))


def test_hand_example():
    # confusion (rows true neg/pos/sur): [[3,1,0],[0,2,0],[1,0,1]]
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 0, 2]
    predictions = table(y_true, y_pred, ["a"] * 4 + ["b"] * 4)
    np.testing.assert_array_equal(confusion(predictions).to_numpy(), [[3, 1, 0], [0, 2, 0], [1, 0, 1]])
    f1 = [2 * 3 / (2 * 3 + 1 + 1), 2 * 2 / (2 * 2 + 1 + 0), 2 * 1 / (2 * 1 + 0 + 1)]
    recall = [3 / 4, 2 / 2, 1 / 2]
    row = compute_metrics(predictions, bootstrap_resamples=0).iloc[0]
    assert row["accuracy"] == pytest.approx(6 / 8)
    assert row["uf1"] == pytest.approx(np.mean(f1))
    assert row["uar"] == pytest.approx(np.mean(recall))
    uf1, uar = uf1_uar_from_confusion(confusion(predictions).to_numpy())
    assert (uf1, uar) == (pytest.approx(np.mean(f1)), pytest.approx(np.mean(recall)))


def test_bootstrap_contains_estimate_and_is_seeded():
    predictions = random_predictions(1)
    predictions.loc[::2, "y_pred"] = predictions.loc[::2, "y_true"]  # better than chance
    first = compute_metrics(predictions, bootstrap_resamples=300, seed=7)
    again = compute_metrics(predictions, bootstrap_resamples=300, seed=7)
    other = compute_metrics(predictions, bootstrap_resamples=300, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not first["uf1_ci_low"].equals(other["uf1_ci_low"])
    for _, row in first.iterrows():
        assert row.uf1_ci_low <= row.uf1 <= row.uf1_ci_high
        assert row.uar_ci_low <= row.uar <= row.uar_ci_high
        assert row.uf1_ci_low < row.uf1_ci_high


def test_bootstrap_resample_equals_sklearn_on_pooled_clips():
    # one subject only: every resample is that subject, so the interval collapses onto sklearn's value
    predictions = table([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], ["a"] * 5)
    interval = bootstrap_interval(predictions, 20, 0)
    expected = f1_score(predictions.y_true, predictions.y_pred, average="macro")
    assert interval["uf1_ci_low"] == pytest.approx(expected) == interval["uf1_ci_high"]


def test_absent_class_warns_and_counts_zero():
    predictions = table([0, 0, 1, 1], [0, 1, 1, 1], ["a", "a", "b", "b"])  # no surprise at all
    with pytest.warns(UserWarning, match="casme2.*surprise"):
        row = compute_metrics(predictions, bootstrap_resamples=10).iloc[0]
    f1_neg, f1_pos = 2 * 1 / (2 + 1), 2 * 2 / (4 + 1)
    assert row["uf1"] == pytest.approx((f1_neg + f1_pos + 0) / 3)
    assert row["uar"] == pytest.approx((0.5 + 1.0 + 0) / 3)


def test_subject_averaged_variant_and_per_subject_table():
    predictions = table([0, 1, 0, 0, 2, 2], [0, 1, 1, 0, 2, 0], ["a", "a", "b", "b", "c", "c"])
    per_subject = per_subject_metrics(predictions)
    assert list(per_subject.subject) == ["a", "b", "c"] and per_subject.n.tolist() == [2, 2, 2]
    expected = np.mean([f1_score(p.y_true, p.y_pred, average="macro") for _, p in predictions.groupby("subject")])
    row = compute_metrics(predictions, bootstrap_resamples=0).iloc[0]
    assert row["uf1_subject_averaged"] == pytest.approx(expected)
    assert row["uf1_subject_averaged"] != pytest.approx(row["uf1"])


def test_bad_tables():
    with pytest.raises(ValueError, match="y_pred"):
        compute_metrics(pd.DataFrame({"dataset": ["x"], "subject": ["a"], "y_true": [0]}))
    with pytest.raises(ValueError, match="outside"):
        compute_metrics(table([0, 3], [0, 1], ["a", "b"]))
    with pytest.raises(ValueError, match="outside"):
        compute_metrics(table([0, np.nan], [0, 1], ["a", "b"]))
    with pytest.raises(ValueError, match="smic"):
        confusion(table([0], [0], ["a"]), dataset="smic")
