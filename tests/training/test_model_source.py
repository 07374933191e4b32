"""training/model_source.py: a fresh model per request, seeded before it is built, compiled, in its built state."""

import keras
import numpy as np

from me_resnet.training.model_source import FRESH_MODELS, ModelRequest


def tiny_model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))


def request(seed: int, compiled: list) -> ModelRequest:
    def compile_model(model):
        loss = keras.losses.CategoricalCrossentropy()
        model.compile(optimizer="adam", loss=loss)
        compiled.append(model)
        return loss

    return ModelRequest(key=("tiny",), seed=seed, build=tiny_model, compile=compile_model, alpha=None)


def test_each_request_is_a_new_model_seeded_built_and_compiled():
    compiled = []
    first = FRESH_MODELS.compiled_model(request(7, compiled))
    again = FRESH_MODELS.compiled_model(request(7, compiled))
    other = FRESH_MODELS.compiled_model(request(8, compiled))
    assert compiled == [first, again, other] and first is not again
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)  # the seed, not the order of the requests, decides the weights
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(tiny_model().get_weights()[0], first.get_weights()[0])  # as a seeded build
