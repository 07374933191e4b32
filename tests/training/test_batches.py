import dataclasses

import numpy as np
import pytest

from me_resnet.config import DEMO
from me_resnet.training.augment import augment_4x
from me_resnet.training.batches import InputWaitTimer, StandardisedBatches, as_feature_dtype, standardise
from me_resnet.training.fold import channel_stats, train_fold
from tests.support.tiny import tiny_build, tiny_features

TINY = dataclasses.replace(
    DEMO, epochs=3, batch_size=8, learning_rate=1e-2, loss="crossentropy", seed=3, early_stop_on="none", augment=True
)


def _epoch(batches):
    return [batches[i] for i in range(len(batches))]


def test_one_epoch_is_every_augmented_clip_standardised_once():
    features = tiny_features()
    X4, y4 = augment_4x(features.X, features.y, features.channels)
    mean, std = channel_stats(X4)
    batches = StandardisedBatches(X4, y4, mean, std, batch_size=7, num_classes=3, seed=0)
    epoch = _epoch(batches)
    assert len(epoch) == -(-len(X4) // 7) and len(epoch[-1][0]) == len(X4) % 7
    xs = np.concatenate([x for x, _ in epoch])
    ys = np.concatenate([t for _, t in epoch]).argmax(1)
    assert xs.dtype == np.float32 and len(xs) == len(X4)
    expected = standardise(X4, mean, std)
    # match every served clip to its source row: each row exactly once, with its own label
    flat, served = expected.reshape(len(X4), -1), xs.reshape(len(xs), -1)
    rows = [int(np.flatnonzero((flat == clip).all(axis=1))[0]) for clip in served]
    assert sorted(rows) == list(range(len(X4)))
    np.testing.assert_array_equal(ys, y4[rows])


def test_shuffle_is_seeded_and_changes_between_epochs():
    X = np.arange(40, dtype=np.float32).reshape(40, 1, 1, 1)
    y = np.zeros(40, int)
    first, second = (StandardisedBatches(X, y, [0.0], [1.0], batch_size=8, num_classes=3, seed=5) for _ in range(2))
    order = lambda b: np.concatenate([x.ravel() for x, _ in _epoch(b)])  # noqa: E731
    np.testing.assert_array_equal(order(first), order(second))
    before = order(first)
    first.on_epoch_end()
    assert not np.array_equal(before, order(first)) and sorted(order(first)) == list(range(40))
    fixed = StandardisedBatches(X, y, [0.0], [1.0], batch_size=8, num_classes=3, shuffle=False)
    np.testing.assert_array_equal(order(fixed), np.arange(40))


def test_bad_arguments_raise():
    X = np.zeros((4, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="3 labels"):
        StandardisedBatches(X, np.zeros(3, int), [0.0], [1.0], batch_size=2, num_classes=3)
    with pytest.raises(ValueError, match="batch_size"):
        StandardisedBatches(X, np.zeros(4, int), [0.0], [1.0], batch_size=0, num_classes=3)
    with pytest.raises(ValueError, match="float16"):
        as_feature_dtype(np.array([1e6], np.float32), "float16")
    with pytest.raises(ValueError, match="feature dtype"):
        as_feature_dtype(X, "int8")


def test_float16_features_train_like_float32_and_timer_counts_steps():
    features = tiny_features(subjects=8)
    train, test = features.subset(range(24)), features.subset(range(24, 32))
    config = dataclasses.replace(TINY, epochs=12)
    timer = InputWaitTimer()
    fp32 = train_fold(train, None, test, config, build_fn=tiny_build, callbacks=[timer])
    fp16 = train_fold(train, None, test, dataclasses.replace(config, feature_dtype="float16"), build_fn=tiny_build)
    np.testing.assert_allclose(fp16.mean, fp32.mean, atol=2e-3)
    np.testing.assert_allclose(fp16.std, fp32.std, rtol=2e-3)
    for result in (fp32, fp16):
        assert (result.predictions == test.y).mean() >= 0.75
    summary = timer.summary()
    assert summary["steps"] == 12 * -(-4 * 24 // config.batch_size)
    assert 0 <= summary["gap_fraction"] < 1
