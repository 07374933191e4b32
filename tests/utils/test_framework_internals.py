"""The private Keras/TensorFlow APIs the kit wraps still do what it relies on: an upgrade that moves one fails
here, by name, instead of as a wrong fold."""

import random

import keras
import numpy as np
import pytest

from me_resnet.utils import framework_internals

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow internals")


def draws() -> tuple:
    """One draw of each generator a Keras fold reads: Python's, NumPy's, Keras' global seed generator."""
    return random.random(), float(np.random.random_sample()), keras.ops.convert_to_numpy(keras.random.uniform((3,)))


def test_reseeding_without_tensorflow_equals_keras_set_random_seed():
    keras.utils.set_random_seed(11)
    assert framework_internals.tensorflow_global_seed() == 11 == framework_internals.keras_global_seed()
    expected = draws()
    assert framework_internals.reseed_keeping_kernel_caches(11)
    got = draws()
    assert got[:2] == expected[:2]
    np.testing.assert_array_equal(got[2], expected[2])  # Keras' global seed generator starts again from the seed


def test_reseeding_is_refused_when_tensorflow_has_another_seed():
    keras.utils.set_random_seed(11)
    state = random.getstate()
    assert not framework_internals.reseed_keeping_kernel_caches(12)
    assert random.getstate() == state and framework_internals.keras_global_seed() == 11  # nothing was set


def test_tensorflow_seeding_clears_the_kernel_caches_and_the_reseed_does_not():
    clears = []
    stop = framework_internals.watch_kernel_cache_clears(lambda: clears.append(1))
    try:
        keras.utils.set_random_seed(3)
        assert clears, "tf.random.set_seed no longer clears the kernel caches through TFE_ContextClearCaches"
        before = len(clears)
        framework_internals.reseed_keeping_kernel_caches(3)
        assert len(clears) == before
    finally:
        stop()
    keras.utils.set_random_seed(4)
    assert len(clears) == before  # stopped watching


def test_op_determinism_can_be_read_and_turned_off_again():
    try:
        tf.config.experimental.enable_op_determinism()
        assert framework_internals.op_determinism_enabled()
        framework_internals.disable_op_determinism()
        assert not framework_internals.op_determinism_enabled()
        framework_internals.disable_op_determinism()  # already off: a no-op
    finally:
        framework_internals.disable_op_determinism()


def test_functional_models_are_layer_graphs_sequential_and_subclassed_ones_are_not():
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    assert framework_internals.is_layer_graph(functional)
    assert not any(framework_internals.is_layer_graph(model) for model in (sequential, Subclassed(), object()))
