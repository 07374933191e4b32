"""``Config.deterministic``: the backend's deterministic ops are on exactly for folds that ask for them."""

import dataclasses

import numpy as np

from me_resnet.training import fold
from me_resnet.training.determinism import deterministic_ops_enabled
from tests.support.tiny import FAST, tiny_build, tiny_features


def test_deterministic_folds_turn_op_determinism_on_and_others_off(monkeypatch):
    features = tiny_features(subjects=3)
    train, test = features.subset(np.arange(8)), features.subset(np.arange(8, 12))
    config = dataclasses.replace(FAST, early_stop_on="none", deterministic=True)
    seen = []

    def build(*args):
        seen.append(deterministic_ops_enabled())
        return tiny_build(*args)

    first = fold.train_fold(train, None, test, config, build_fn=build)
    second = fold.train_fold(train, None, test, config, build_fn=build)
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    default = fold.train_fold(train, None, test, dataclasses.replace(config, deterministic=False), build_fn=build)
    assert seen == [True, True, False] and not deterministic_ops_enabled()
    # Without op determinism the CPU may sum in another order: equal up to float32 rounding, not bit for bit.
    np.testing.assert_allclose(default.probabilities, first.probabilities, rtol=0, atol=1e-5)
