"""A compiled model reused by the next fold trains exactly like a freshly built one."""

import dataclasses

import numpy as np
import pytest

from me_resnet.config import DEMO
from me_resnet.data.records import Features
from me_resnet.training import compiled
from me_resnet.training.compiled import FoldFocalLoss, reuse_compiled_models
from me_resnet.training.fold import train_fold
from me_resnet.training.losses import focal_loss
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
    try:
        reuse_compiled_models(True)
        first = train_fold(*first_fold, config)
        reused = train_fold(*second_fold, config)
        assert compiled._CACHE["model"].key[0] == name  # the second fold did find the kept model
        reuse_compiled_models(False)
        fresh = train_fold(*second_fold, config)
    finally:
        reuse_compiled_models(True)
    assert not np.allclose(first.alpha, fresh.alpha)  # the folds' alpha differ: set_alpha is exercised
    np.testing.assert_allclose(reused.probabilities, fresh.probabilities, rtol=0, atol=1e-6)
    np.testing.assert_allclose(reused.history["loss"], fresh.history["loss"], rtol=1e-6)
    np.testing.assert_array_equal(reused.alpha, fresh.alpha)
    assert not np.allclose(reused.history["loss"], first.history["loss"])  # not a repeat of the first fold


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


def test_reseeding_a_reused_fold_keeps_tensorflow_kernel_caches(monkeypatch):
    """tf.random.set_seed clears TensorFlow's kernel caches (a reused demo fold's first step then took ~3 s);
    a reused fold with an unchanged seed must not clear them, and seeds everything else as set_random_seed does."""
    import random

    import keras
    from keras.src.utils import rng_utils
    from tensorflow.python.eager import context

    shape, config = CASES["ststnet"]
    first_fold, second_fold = _folds(tiny_features(shape=shape))
    clears = []
    original = context.pywrap_tfe.TFE_ContextClearCaches
    monkeypatch.setattr(context.pywrap_tfe, "TFE_ContextClearCaches", lambda h: clears.append(1) or original(h))
    reuse_compiled_models(True)
    train_fold(*first_fold, config)
    before = len(clears)
    assert before >= 1  # the build's seeding cleared them: the counter sees the call
    train_fold(*second_fold, config)
    assert len(clears) == before

    keras.utils.set_random_seed(config.seed)
    expected = (random.random(), float(np.random.random_sample()))
    compiled.seed_random_generators(config.seed, reusing=True)
    assert (random.random(), float(np.random.random_sample())) == expected
    assert rng_utils.get_random_seed() == config.seed
    compiled.seed_random_generators(config.seed + 1, reusing=True)  # another seed: TensorFlow is re-seeded
    assert context.global_seed() == config.seed + 1
