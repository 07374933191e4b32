"""A compiled model reused by the next fold trains exactly like a freshly built one."""

import dataclasses

import numpy as np
import pytest

from me_resnet.config import DEMO
from me_resnet.data.records import Features
from me_resnet.models.registry import build_model
from me_resnet.parallel.compiled import KeptCompiledModel
from me_resnet.training.fold import train_fold
from me_resnet.training.losses import FoldFocalLoss, focal_loss
from me_resnet.utils import framework_internals
from tests.support.tiny import tiny_features


def _folds(features: Features):
    """Two folds whose training sets differ (so do their alpha): rows 0-15 / test 16-19, rows 4-19 / test 20-23."""
    return (
        (features.subset(range(16)), None, features.subset(range(16, 20))),
        (features.subset(range(4, 20)), None, features.subset(range(20, 24))),
    )


CASES = {
    # ststnet: dropout (seed state), focal loss with per-fold alpha
    "ststnet": (
        (8, 8, 3),
        dataclasses.replace(DEMO, model="ststnet", epochs=3, batch_size=8, loss="focal", augment=False, seed=5),
    ),
    # a small ME-ResNet: batch-norm moving statistics, CBAM, 3D convolutions
    "me_resnet": (
        (2, 8, 8, 3),
        dataclasses.replace(DEMO, num_frames=2, image_size=8, width=4, epochs=2, batch_size=8, seed=5),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_reused_model_equals_fresh_build(name):
    """The second fold on the kept model == the second fold on a freshly built one (the first fold is a build)."""
    shape, config = CASES[name]
    first_fold, second_fold = _folds(tiny_features(shape=shape))
    kept = KeptCompiledModel()
    first = train_fold(*first_fold, config, models=kept)
    model = kept.kept.model
    reused = train_fold(*second_fold, config, models=kept)
    assert kept.kept.model is model and kept.kept.key[0] == name  # the second fold did get the kept model
    fresh = train_fold(*second_fold, config)  # the default source: a new build
    assert not np.allclose(first.alpha, fresh.alpha)  # the folds' alpha differ: set_alpha is exercised
    np.testing.assert_allclose(reused.probabilities, fresh.probabilities, rtol=0, atol=1e-6)
    np.testing.assert_allclose(reused.history["loss"], fresh.history["loss"], rtol=1e-6)
    np.testing.assert_array_equal(reused.alpha, fresh.alpha)
    assert not np.allclose(reused.history["loss"], first.history["loss"])  # not a repeat of the first fold


def test_a_callers_own_builder_or_another_model_is_never_handed_the_kept_one():
    shape, config = CASES["ststnet"]
    first_fold, _ = _folds(tiny_features(shape=shape))
    kept = KeptCompiledModel()
    train_fold(*first_fold, config, models=kept)
    model = kept.kept.model
    own = train_fold(*first_fold, config, models=kept, build_fn=build_model)  # a caller's builder: built anew
    assert kept.kept.model is model and own.epochs_trained == config.epochs
    train_fold(*first_fold, dataclasses.replace(config, learning_rate=0.5), models=kept)  # another key
    assert kept.kept.model is not model and kept.kept.key[2].learning_rate == 0.5


def test_fold_focal_loss_equals_keras_focal_loss_and_takes_new_alpha():
    rng = np.random.default_rng(1)
    y_true = np.eye(3)[rng.integers(0, 3, 16)].astype("float32")
    y_pred = rng.dirichlet(np.ones(3), 16).astype("float32")
    loss = FoldFocalLoss([0.2, 0.3, 0.5], gamma=2.0)
    assert float(loss(y_true, y_pred)) == pytest.approx(float(focal_loss([0.2, 0.3, 0.5])(y_true, y_pred)), rel=1e-6)
    loss.set_alpha([0.5, 0.3, 0.2])
    assert float(loss(y_true, y_pred)) == pytest.approx(float(focal_loss([0.5, 0.3, 0.2])(y_true, y_pred)), rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        loss.set_alpha([1.0])


def test_reseeding_a_reused_fold_keeps_tensorflow_kernel_caches():
    """tf.random.set_seed clears TensorFlow's kernel caches (a reused demo fold's first step would then rebuild
    its kernels); a reused fold with an unchanged seed must not clear them, and seeds everything else as
    set_random_seed does."""
    import random

    import keras

    shape, config = CASES["ststnet"]
    first_fold, second_fold = _folds(tiny_features(shape=shape))
    clears = []
    stop = framework_internals.watch_kernel_cache_clears(lambda: clears.append(1))
    try:
        kept = KeptCompiledModel()
        train_fold(*first_fold, config, models=kept)
        before = len(clears)
        assert before >= 1  # the build's seeding cleared them: the counter sees the call
        train_fold(*second_fold, config, models=kept)
        assert len(clears) == before
    finally:
        stop()

    keras.utils.set_random_seed(config.seed)
    expected = (random.random(), float(np.random.random_sample()))
    assert framework_internals.reseed_keeping_kernel_caches(config.seed)
    assert (random.random(), float(np.random.random_sample())) == expected
    assert framework_internals.keras_global_seed() == config.seed
    assert not framework_internals.reseed_keeping_kernel_caches(config.seed + 1)  # another seed: not possible
