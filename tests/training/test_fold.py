import dataclasses

import numpy as np
import pytest

from me_resnet.training.fold import channel_stats, train_fold, validation_split
from tests.support.tiny import TINY, tiny_build, tiny_features


def test_train_fold_shapes_and_bookkeeping():
    features = tiny_features()
    train, val, test = features.subset(range(16)), features.subset(range(16, 20)), features.subset(range(20, 24))
    result = train_fold(train, val, test, TINY, build_fn=tiny_build)
    assert result.probabilities.shape == (4, 3)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
    assert result.epochs_trained <= TINY.epochs and 1 <= result.best_epoch <= result.epochs_trained
    assert set(result.fit_keys) == {f"casme2/{s}/{c}" for s, c in zip(train.subjects, train.clips)}
    assert result.stats_keys == result.fit_keys and len(result.val_keys) == 4
    # augmented u and v average to 0 exactly, so the mean is the training data's strain mean only
    assert abs(result.mean[0]) < 1e-6 and abs(result.mean[1]) < 1e-6
    assert result.mean[2] == pytest.approx(train.X[..., 2].mean(), rel=1e-4, abs=1e-6)


def test_same_seed_same_predictions_and_none_trains_all_epochs():
    features = tiny_features()
    train, test = features.subset(range(20)), features.subset(range(20, 24))
    config = dataclasses.replace(TINY, early_stop_on="none", epochs=4)
    first = train_fold(train, None, test, config, build_fn=tiny_build)
    second = train_fold(train, None, test, config, build_fn=tiny_build)
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    assert first.epochs_trained == 4 and first.best_epoch is None
    other = train_fold(train, None, test, dataclasses.replace(config, seed=4), build_fn=tiny_build)
    assert not np.array_equal(first.probabilities, other.probabilities)


def test_learns_the_tiny_task():
    features = tiny_features(subjects=8)
    config = dataclasses.replace(TINY, early_stop_on="none", epochs=15)
    result = train_fold(features.subset(range(24)), None, features.subset(range(24, 32)), config, build_fn=tiny_build)
    assert (result.predictions == features.y[24:]).mean() >= 0.75


def test_validation_split_whole_subjects_seeded():
    groups = np.repeat([f"s{k}" for k in range(20)], 3)
    fit, val = validation_split(groups, 0.1, seed=0)
    assert len(set(groups[val])) == 2 and not set(groups[fit]) & set(groups[val])
    assert len(fit) + len(val) == len(groups)
    np.testing.assert_array_equal(val, validation_split(groups, 0.1, seed=0)[1])
    _, small = validation_split(groups[:6], 0.1, seed=0)  # 2 subjects: still 1 for validation
    assert len(set(groups[:6][small])) == 1
    with pytest.raises(ValueError, match="at least 2"):
        validation_split(groups[:3], 0.1, seed=0)


def test_bad_inputs():
    features = tiny_features()
    train, test = features.subset(range(20)), features.subset(range(20, 24))
    broken = features.subset(range(20))
    broken.X[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*casme2/000/c3"):
        train_fold(broken, None, test, dataclasses.replace(TINY, early_stop_on="none"), build_fn=tiny_build)
    with pytest.raises(ValueError, match="val is missing"):
        train_fold(train, None, test, TINY, build_fn=tiny_build)
    with pytest.raises(ValueError, match="early_stop_on"):
        train_fold(train, None, test, dataclasses.replace(TINY, early_stop_on="best"), build_fn=tiny_build)


def test_missing_class_in_training_fold_is_logged(caplog):
    features = tiny_features()
    no_surprise = features.subset(np.flatnonzero(features.y[:20] != 2))
    config = dataclasses.replace(TINY, early_stop_on="none", epochs=1)
    with caplog.at_level("WARNING"):
        result = train_fold(no_surprise, None, features.subset(range(20, 24)), config, build_fn=tiny_build)
    assert result.missing_train_classes == ("surprise",)
    assert "surprise" in caplog.text


def test_channel_stats_constant_channel():
    X = np.ones((4, 2, 2, 3), np.float32)
    mean, std = channel_stats(X)
    np.testing.assert_array_equal(mean, 1) and np.testing.assert_array_equal(std, 1)


def test_focal_alpha_from_training_labels_only():
    from me_resnet.training.losses import class_alpha

    features = tiny_features()
    train, test = features.subset(range(20)), features.subset(range(20, 24))
    test.y[:] = 2  # the test labels must not move alpha
    config = dataclasses.replace(TINY, loss="focal", early_stop_on="none", epochs=1)
    result = train_fold(train, None, test, config, build_fn=tiny_build)
    np.testing.assert_allclose(result.alpha, class_alpha(train.y, 3), rtol=1e-6)
    assert result.alpha_keys == result.fit_keys


def test_missing_class_with_inverse_frequency_alpha_is_a_clear_error():
    features = tiny_features()
    no_surprise = features.subset(np.flatnonzero(features.y[:20] != 2))
    config = dataclasses.replace(TINY, loss="focal", early_stop_on="none", epochs=1)
    with pytest.raises(ValueError, match=r"no clip of class.*surprise.*focal_alpha='none'"):
        train_fold(no_surprise, None, features.subset(range(20, 24)), config, build_fn=tiny_build)
    result = train_fold(
        no_surprise,
        None,
        features.subset(range(20, 24)),
        dataclasses.replace(config, focal_alpha="none"),
        build_fn=tiny_build,
    )
    assert result.alpha is None and result.missing_train_classes == ("surprise",)
