"""Every private Keras and TensorFlow API the kit touches, each with the reason no public one will do.

Keras 3 and TensorFlow keep these out of their public APIs and may change them in any
release; ``tests/utils/test_framework_internals.py`` checks each against the installed
versions, so an upgrade that moves one fails there, by name, not as a wrong result in a
fold. Nothing else in the kit imports ``keras.src`` or ``tensorflow.python``.

- Re-seeding without clearing TensorFlow's kernel caches: ``keras.utils.set_random_seed``
  calls ``tf.random.set_seed``, which clears them, so a kept traced train step rebuilds its
  kernels on its next call; to seed a fold that reuses a compiled model, the seed's other
  parts are set one by one (``reseed_keeping_kernel_caches``).
- Turning op determinism off again and asking whether it is on: TensorFlow exports
  ``tf.config.experimental.enable_op_determinism`` only.
- Whether a model is a functional ``keras.Model`` (a graph of layers with known inputs and
  outputs), which the fold-parallel engine walks layer by layer: Keras exports no such test.
"""

from __future__ import annotations

import random

import numpy as np


def tensorflow_global_seed() -> int | None:
    """TensorFlow's global seed (what ``tf.random.set_seed`` last set), None when unset."""
    from tensorflow.python.eager import context

    return context.global_seed()


def keras_global_seed() -> int | None:
    """The seed ``keras.utils.set_random_seed`` last set (Keras' global seed), None when unset."""
    from keras.src.utils import rng_utils

    return rng_utils.get_random_seed()


def reseed_keeping_kernel_caches(seed: int) -> bool:
    """What ``keras.utils.set_random_seed(seed)`` does, without clearing TensorFlow's kernel caches.

    Possible only where TensorFlow's global seed already is ``seed`` (then
    ``tf.random.set_seed`` would change nothing a traced step reads); returns False
    and sets nothing otherwise. Sets Keras' global seed, drops Keras' global seed
    generator (the next one is made from the seed) and seeds Python's and NumPy's
    generators, as ``keras.utils.set_random_seed`` does in Keras 3.
    """
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    if tensorflow_global_seed() != seed:
        return False
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    return True


def watch_kernel_cache_clears(callback):
    """Call ``callback()`` whenever TensorFlow clears its kernel caches; returns a function that stops it.

    For the tests that check a reused fold keeps TensorFlow's kernels.
    """
    from tensorflow.python.eager import context

    original = context.pywrap_tfe.TFE_ContextClearCaches

    def counting(handle):
        callback()
        return original(handle)

    context.pywrap_tfe.TFE_ContextClearCaches = counting

    def stop() -> None:
        context.pywrap_tfe.TFE_ContextClearCaches = original

    return stop


def op_determinism_enabled() -> bool:
    """Whether TensorFlow's op determinism is on in this process."""
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())


def disable_op_determinism() -> None:
    """Turn TensorFlow's op determinism off (a no-op when it is off)."""
    from tensorflow.python.framework import config

    if config.is_op_determinism_enabled():
        config.disable_op_determinism()


def is_layer_graph(model) -> bool:
    """Whether ``model`` is a functional ``keras.Model``: a graph of layers with known inputs and outputs,
    which can be walked layer by layer (a subclassed or ``Sequential`` model is not)."""
    import keras

    return isinstance(model, keras.Model) and hasattr(model, "_operations")
